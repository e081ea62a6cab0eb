"""Every service's OpenAPI document, as served: each error a route can give is documented as
problem+json with the `ProblemDetails` schema, and every schema a route refers to is there.
(The fuzzer, tests/fuzz, checks the same against the running services' answers.)"""

from __future__ import annotations

import importlib
import json
import re

import pytest

SERVICES = ("claims", "eligibility", "remittance", "denials", "collections")
PROBLEM = "application/problem+json"
# Every route behind a token can answer these (openrcm_shared.http.openapi_docs.TOKEN_ROUTE_PROBLEMS).
TOKEN_ROUTE_STATUSES = {"400", "401", "403", "422", "429", "503"}


FHIR_POSTS_400_422 = {(path, status) for path in ("/fhir", "/fhir/Claim") for status in ("400", "422")}


def is_fhir(path: str) -> bool:
    return path == "/fhir" or path.startswith("/fhir/")


def openapi(service: str) -> dict:
    return importlib.import_module(f"openrcm_{service}.main").app.openapi()


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


@pytest.mark.parametrize("service", SERVICES)
def test_every_schema_referred_to_is_among_the_components(service):
    document = openapi(service)
    referred = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert referred <= set(document["components"]["schemas"])
    # FastAPI's own validation error shape is never answered (errors are problem+json).
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_error_is_documented_as_a_problem(service):
    for path, method, operation in operations(openapi(service)):
        responses = operation["responses"]
        if not path.startswith("/v1/webhooks/"):
            assert TOKEN_ROUTE_STATUSES <= set(responses), (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                content = response.get("content", {})
                assert content, (method, path, status)
                if PROBLEM in content:
                    assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}
                    # Beside the problem, only a rejected 835 upload answers with its stored file's view, and
                    # FHIR's posts with an OperationOutcome once past the checks every route makes.
                    assert set(content) == {PROBLEM} or (path, status) in {
                        ("/v1/remittances", "422"), *FHIR_POSTS_400_422}, (method, path, status)
                else:  # FHIR answers its own problems as an OperationOutcome
                    assert is_fhir(path) and set(content) == {"application/fhir+json"}, (method, path)


@pytest.mark.parametrize("service", SERVICES)
def test_routes_that_take_a_body_document_its_size_and_media_type_limits(service):
    for path, method, operation in operations(openapi(service)):
        if "requestBody" in operation:
            assert {"413", "415"} <= set(operation["responses"]), (method, path)


def test_a_service_documents_only_the_schemas_it_refers_to():
    # Every service app imported in one process: a body model one service names (RemittanceIn) stays
    # out of the others' documents.
    apps = [importlib.import_module(f"openrcm_{service}.main").app for service in SERVICES]
    for app in apps:
        app.openapi_schema = None  # built again, now that every service's routes are defined
    documents = {service: app.openapi() for service, app in zip(SERVICES, apps)}
    assert "RemittanceIn" in documents["remittance"]["components"]["schemas"]
    assert all("RemittanceIn" not in documents[service]["components"]["schemas"]
               for service in SERVICES if service != "remittance")


@pytest.mark.parametrize("service", SERVICES)
def test_every_audited_operation_documents_the_purpose_of_use_header(service):
    from openrcm_shared.audit.purpose import PURPOSE_HEADER, PURPOSES_OF_USE
    documented = 0
    for path, method, operation in operations(openapi(service)):
        headers = {parameter["name"].lower(): parameter for parameter in operation.get("parameters", [])
                   if parameter["in"] == "header"}
        if PURPOSE_HEADER.lower() in headers:
            documented += 1
            assert set(headers[PURPOSE_HEADER.lower()]["schema"]["enum"]) == PURPOSES_OF_USE, (method, path)
            assert "400" in operation["responses"], (method, path)
    assert documented > 0  # every service has audited reads (patients, claims, cases, accounts, ERAs)
