"""Every integer an API takes (query, path and header parameters, request body fields) is bounded,
within PostgreSQL's bigint at most: an unbounded `int` compared with an `integer` column fails in
the driver, a 500 (`?version=10000000000000001` did). Read from each service's OpenAPI document, so
a new route is checked as soon as it exists. No stack needed."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from openrcm_shared.http.bounds import INT8_MAX, INT8_MIN

SERVICES = ["claims", "eligibility", "remittance", "denials", "collections"]


def _request_models(service: str) -> dict[str, type[BaseModel]]:
    """Models of the service's entrypoints by name: routes that read their body themselves
    (`json_body_doc`) refer to a model FastAPI may not have put among the components."""
    package = importlib.import_module(f"openrcm_{service}.entrypoints")
    models = {}
    for info in __import__("pkgutil").iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        models.update({name: value for name, value in vars(module).items()
                       if inspect.isclass(value) and issubclass(value, BaseModel)})
    return models


class _Schemas:
    def __init__(self, document: dict, models: dict[str, type[BaseModel]]) -> None:
        self.components = dict(document.get("components", {}).get("schemas", {}))
        self.models = models

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in self.components:
                model_schema = self.models[name].model_json_schema(ref_template="#/components/schemas/{model}")
                self.components.update(model_schema.pop("$defs", {}))
                self.components[name] = model_schema
            schema = self.components[name]
        return schema

    def unbounded(self, schema: dict, where: str, seen: set[int]) -> Iterator[str]:
        schema = self.resolve(schema)
        if id(schema) in seen:
            return
        seen.add(id(schema))
        for alternative in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
            yield from self.unbounded(alternative, where, seen)
        if schema.get("type") == "integer" and "enum" not in schema and "const" not in schema:
            low = schema.get("minimum", schema.get("exclusiveMinimum"))
            high = schema.get("maximum", schema.get("exclusiveMaximum"))
            if low is None or high is None or low < INT8_MIN or high > INT8_MAX:
                yield f"{where}: minimum {low}, maximum {high}"
        if isinstance(schema.get("items"), dict):
            yield from self.unbounded(schema["items"], where + "/*", seen)
        for name, member in schema.get("properties", {}).items():
            yield from self.unbounded(member, f"{where}/{name}", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            yield from self.unbounded(schema["additionalProperties"], where + "/*", seen)


def unbounded_integers(service: str) -> list[str]:
    document = importlib.import_module(f"openrcm_{service}.main").app.openapi()
    schemas = _Schemas(document, _request_models(service))
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            route = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                found += schemas.unbounded(parameter.get("schema", {}), f"{route} {parameter['in']} "
                                           f"{parameter['name']}", set())
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                found += schemas.unbounded(content.get("schema", {}), f"{route} body ({media_type})", set())
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_integer_an_api_takes_is_bounded(service):
    assert unbounded_integers(service) == []


def test_the_check_finds_an_unbounded_integer():
    schemas = _Schemas({}, {})
    assert list(schemas.unbounded({"type": "integer", "minimum": 1}, "GET /x query version", set())) == [
        "GET /x query version: minimum 1, maximum None"]
    assert list(schemas.unbounded({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 2 ** 64}, {"type": "null"}]},
                                  "q", set())) == [f"q: minimum 1, maximum {2 ** 64}"]
    assert list(schemas.unbounded({"type": "integer", "enum": [1, 2, 3]}, "q", set())) == []
