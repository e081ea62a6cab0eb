"""FHIR intake: POST /fhir/Claim takes an R4 Claim and answers with a ClaimResponse, or an
OperationOutcome naming each problem (never a 500 for bad input)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from openrcm_claims.adapters.fhir_claims import (
    FhirMappingError, claim_response, encounter_from_claim, operation_outcome, parse_claim,
)
from openrcm_claims.entrypoints.schemas import EncounterIn
from openrcm_claims.service_layer.submission import submit_encounter
from openrcm_shared.http.media_types import is_json_media_type
from openrcm_shared.http.openapi_docs import problem_doc, problem_responses
from openrcm_shared.http.problems import Problem
from openrcm_shared.security.practice import ClaimsWrite

router = APIRouter(prefix="/fhir", tags=["FHIR"])
FHIR_JSON = "application/fhir+json"


class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON


def _resource_schema(resource_type: str, required: list[str], **properties: dict) -> dict:
    """The outline of a FHIR R4 resource the OpenAPI shows (the full definitions are HL7's)."""
    return {"type": "object", "required": ["resourceType", *required],
            "properties": {"resourceType": {"type": "string", "enum": [resource_type]}, **properties}}


_CLAIM = _resource_schema("Claim", [], status={"type": "string"}, item={"type": "array", "items": {"type": "object"}})
_CLAIM_RESPONSE = _resource_schema("ClaimResponse", ["outcome"], id={"type": "string"}, outcome={"type": "string"})
_OPERATION_OUTCOME = _resource_schema("OperationOutcome", ["issue"], issue={"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["severity", "code"], "properties": {
        "severity": {"type": "string"}, "code": {"type": "string"}, "diagnostics": {"type": "string"},
        "expression": {"type": "array", "items": {"type": "string"}}}}})


def _outcome_doc(description: str, *, or_problem: bool = False) -> dict:
    """An OperationOutcome answer (and, for `or_problem`, the problem+json of the checks every route makes)."""
    content = {FHIR_JSON: {"schema": _OPERATION_OUTCOME}}
    if or_problem:
        return problem_doc(400, description, also=content)
    return {"description": description, "content": content}


# The body is read here (any JSON media type: FHIR clients send application/fhir+json or application/json).
_CLAIM_DOC = {"requestBody": {"required": True, "content": {
    FHIR_JSON: {"schema": _CLAIM}, "application/json": {"schema": _CLAIM}}}}


def _outcome(status: int, issues: list[tuple[str, str, str]]) -> JSONResponse:
    return JSONResponse(operation_outcome(issues), status_code=status, media_type=FHIR_JSON)


def _fhirpath(location: tuple) -> str:
    path = "Claim"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _claim_path(pointer: str) -> str:
    """Where in the Claim an encounter-level problem comes from (FHIRPath), for the OperationOutcome."""
    if pointer.startswith("/lines/"):
        return "Claim.item.diagnosisSequence" if "diagnosis_pointers" in pointer else "Claim.item"
    return "Claim"


@router.post("/Claim", status_code=201, response_class=FhirJSONResponse, openapi_extra=_CLAIM_DOC, responses={
    201: {"description": "ClaimResponse", "content": {FHIR_JSON: {"schema": _CLAIM_RESPONSE}}},
    **problem_responses(413),
    400: _outcome_doc("Not JSON (OperationOutcome), or an invalid X-Tenant-Id (problem)", or_problem=True),
    409: _outcome_doc("This encounter (the Claim's identifier) was already taken"),
    415: _outcome_doc("Not sent as FHIR JSON (application/fhir+json or application/json)"),
    422: _outcome_doc("OperationOutcome naming each problem")})
async def post_fhir_claim(request: Request, tenant_id: ClaimsWrite) -> JSONResponse:
    if not is_json_media_type(request.headers.get("content-type")):
        return _outcome(415, [("not-supported", "", "send the Claim as application/fhir+json")])
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return _outcome(400, [("structure", "", "the body is not JSON")])
    try:
        fhir_claim = parse_claim(payload)
    except ValidationError as invalid:
        return _outcome(422, [("invalid", _fhirpath(tuple(e["loc"])), e["msg"])
                              for e in invalid.errors(include_input=False)])
    try:
        encounter = EncounterIn.model_validate(encounter_from_claim(fhir_claim))
    except FhirMappingError as missing:
        return _outcome(422, [("required", missing.expression, str(missing))])
    except ValidationError as invalid:
        return _outcome(422, [("invalid", "Claim", "encounter field /" + "/".join(map(str, e["loc"])) + f": {e['msg']}")
                              for e in invalid.errors(include_input=False)])
    except (AttributeError, IndexError, TypeError, StopIteration):
        return _outcome(422, [("required", "Claim", "the Claim lacks parts a claim needs (patient, coverage, "
                                                    "provider, diagnoses, items with codes, amounts and dates)")])
    problems = encounter.consistency_errors()
    if problems:
        return _outcome(422, [("invalid", _claim_path(pointer), message) for pointer, message in problems])
    runtime = request.app.state.runtime
    try:
        async with runtime.engine.begin() as conn:
            claim = await submit_encounter(conn, tenant_id, encounter)
    except Problem as refused:
        code = "business-rule" if refused.status == 422 else "duplicate"
        issues = [(code, e["pointer"], e["detail"]) for e in refused.errors or []] or [(code, "", refused.title)]
        return _outcome(refused.status, issues)
    runtime.events_staged()
    return JSONResponse(claim_response(claim, fhir_claim), status_code=201, media_type=FHIR_JSON,
                        headers={"Location": f"/v1/claims/{claim.id}"})
