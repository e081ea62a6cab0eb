"""POST /v1/encounters reads its body and headers itself (the intake's hot path); its OpenAPI
operation must still show them as FastAPI would for declared parameters."""

from __future__ import annotations

from openrcm_claims.main import app


def test_the_encounter_route_documents_its_body_and_headers():
    document = app.openapi()
    operation = document["paths"]["/v1/encounters"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EncounterIn"}
    assert "EncounterIn" in document["components"]["schemas"]
    assert {(p["name"], p["in"]) for p in operation["parameters"]} == {("idempotency-key", "header"),
                                                                       ("x-tenant-id", "header"),
                                                                       ("x-purpose-of-use", "header")}
    assert operation["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClaimOut"}


def test_the_documented_encounter_example_is_one_the_intake_takes():
    from openrcm_claims.entrypoints.schemas import ENCOUNTER_EXAMPLE, EncounterIn

    schema = app.openapi()["components"]["schemas"]["EncounterIn"]
    assert schema["examples"] == [ENCOUNTER_EXAMPLE]
    assert EncounterIn.model_validate(ENCOUNTER_EXAMPLE).consistency_errors() == []


def test_the_fhir_posts_document_their_headers_and_scope():
    # They read their headers themselves too (POST /fhir/Claim, POST /fhir).
    document = app.openapi()
    for path in ("/fhir/Claim", "/fhir"):
        operation = document["paths"][path]["post"]
        assert {(p["name"], p["in"]) for p in operation["parameters"]} == {("idempotency-key", "header"),
                                                                           ("x-tenant-id", "header")}, path
        assert operation["security"] == [{"OAuth2ClientCredentials": ["claims:write"]}], path
