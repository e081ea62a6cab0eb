"""What the OpenAPI documents beside FastAPI's own: every problem a route can answer (as
`application/problem+json`), and the schemas of bodies that routes read themselves.

Each service's app documents, for every route behind a token, the problems any such route can
give (`TOKEN_ROUTE_PROBLEMS`: 400, 401, 403, 422, 429, 503); a route adds its own (404 where it
looks an id up, 409 for a conflict, 413 and 415 where it takes a body) with `problem_responses`
or `problem_doc`.
All of them point at one schema component, `ProblemDetails` (RFC 9457 §3, with this project's
`errors[]` of JSON pointers), so a client and a fuzzer can check each error against it.

A route that reads its body itself (`bodies.json_body`, several media types on one path) names the
body's model with `schema_ref`; the app adds the schemas so named to the components if FastAPI did
not already (it adds only the models of the parameters and responses it handles).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from openrcm_shared.http.problems import PROBLEM_JSON

_REF_TEMPLATE = "#/components/schemas/{model}"
# Models named by `schema_ref`, by the component name they are referred to by.
_NAMED_MODELS: dict[str, type[BaseModel]] = {}


class FieldProblem(BaseModel):
    """One field at fault."""

    pointer: str = Field(description="RFC 6901 JSON pointer into the body, or /query/…, /path/…, /header/…")
    detail: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details. Extension members (e.g. `trace_id`, `webhook_id`) may appear beside these."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="A URI naming the kind of problem")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    instance: str | None = Field(None, description="The request path")
    errors: list[FieldProblem] | None = None


PROBLEM_SCHEMA_REF = {"$ref": _REF_TEMPLATE.format(model=ProblemDetails.__name__)}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}

# What each status means on any route of this project; a route may say more for its own.
_STANDARD: dict[int, tuple[str, dict[str, Any] | None]] = {
    400: ("Malformed request: a body that is not JSON, a cursor this API did not issue, or an invalid "
          "X-Tenant-Id or Idempotency-Key header", None),
    401: ("No access token, or one that is not accepted (`WWW-Authenticate` says why, RFC 6750 §3)",
          {"WWW-Authenticate": {"description": "Bearer challenge", "schema": {"type": "string"}}}),
    403: ("The token lacks the operation's scope, or does not serve the practice named", None),
    404: ("Not found in this practice", None),
    409: ("Conflicts with the resource's current state", None),
    413: ("The request body is larger than this operation takes", None),
    415: ("The body's Content-Type is not one this operation takes", None),
    422: ("Invalid fields, each named by a JSON pointer in `errors`", None),
    429: ("Too many requests from this client", _RETRY_AFTER),
    503: ("Overloaded, or a dependency (the database) is unavailable; retry after `Retry-After`", _RETRY_AFTER),
}


def problem_doc(status: int, description: str | None = None, *, also: dict[str, dict] | None = None) -> dict:
    """The OpenAPI response object of a problem answer: `application/problem+json` with the
    `ProblemDetails` schema (and `also`, further media types the route answers this status with, e.g. FHIR's)."""
    standard_description, headers = _STANDARD.get(status, ("Problem", None))
    doc: dict[str, Any] = {"description": description or standard_description,
                           "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA_REF}, **(also or {})}}
    if headers:
        doc["headers"] = headers
    return doc


def problem_responses(*statuses: int) -> dict[int, dict]:
    """`responses=` entries for problems with the standard meaning of each of `statuses` (a route
    adds its own wording with `{409: problem_doc(409, "Encounter already submitted")}`)."""
    return {status: problem_doc(status) for status in statuses}


# Every route behind a token can answer these: the header checks (400), the token (401, 403), its
# parameters (422: the X-Tenant-Id header at least), per-client limits (429), overload and an
# unavailable database (503).
TOKEN_ROUTE_PROBLEMS = problem_responses(400, 401, 403, 422, 429, 503)
# A route taking a request body adds these: too large, or sent as a media type it does not take.
BODY_PROBLEMS = problem_responses(413, 415)


def schema_ref(model: type[BaseModel]) -> dict:
    """A reference to `model`'s schema for a route's `openapi_extra`; `extra_components` supplies the
    schema when FastAPI has not put it among the components."""
    _NAMED_MODELS[model.__name__] = model
    return {"$ref": _REF_TEMPLATE.format(model=model.__name__)}


def extra_components(document: dict) -> dict[str, dict]:
    """Schemas for the `components.schemas` of `document` that it refers to and FastAPI did not add:
    `ProblemDetails`, and models named by `schema_ref` (with the models they refer to in turn)."""
    present = set(document.get("components", {}).get("schemas", {}))
    missing = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document))) - present
    known = {ProblemDetails.__name__: ProblemDetails, **_NAMED_MODELS}
    models = [model for name, model in known.items() if name in missing]
    if not models:
        return {}
    _, top = models_json_schema([(model, "validation") for model in models], ref_template=_REF_TEMPLATE)
    return {name: schema for name, schema in top.get("$defs", {}).items() if name not in present}


def complete_problem_docs(document: dict) -> dict:
    """Every error response of `document` as a problem: a `responses=` entry a route wrote with only
    a description (`{404: {"description": "No such case"}}`) gets the `ProblemDetails` content, and an
    operation taking a body gets 413 and 415 (the inbound guard answers them on every route). So the
    document never claims less than the service answers, whichever way a route declared its errors."""
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.get("responses", {})
            for status, response in responses.items():
                if str(status).isdigit() and int(status) >= 400 and not response.get("content"):
                    response["content"] = problem_doc(int(status))["content"]
            if "requestBody" in operation:
                for status, response in BODY_PROBLEMS.items():
                    responses.setdefault(str(status), response)
    return document
