"""FHIR R4 intake and views (application/fhir+json):

- `POST /fhir/Claim`: one Claim -> 201 with its ClaimResponse, or an OperationOutcome naming
  every problem by FHIRPath (400 not JSON, 415 not sent as JSON, 422 not billable, 409 already taken);
- `POST /fhir`: a transaction, batch or collection Bundle of Claims and their parties -> a
  transaction-response / batch-response Bundle (a failed transaction: one OperationOutcome);
- `GET /fhir/Claim/{id}`: the claim that was taken, as a FHIR Claim;
- `GET /fhir/ClaimResponse/{id}`: where it stands, with the payer's adjudication once it has one.

Both POSTs take an `Idempotency-Key` (same key and body: the stored answer). Authorization is the
rest of the API's: claims:write to post, claims:read to read.
"""

from __future__ import annotations

import json
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from openrcm_claims.adapters.fhir.issues import Issue, Refused, operation_outcome
from openrcm_claims.adapters.fhir.references import Resolver
from openrcm_claims.adapters.fhir.resources import json_body, parse_bundle, parse_claim
from openrcm_claims.service_layer.fhir_intake import (
    fhir_json, take_bundle, take_bundle_at_once, take_claim, take_claim_at_once,
)
from openrcm_claims.service_layer.fhir_views import claim_as_fhir, claim_response_as_fhir
from openrcm_shared.db import snapshot
from openrcm_shared.http.idempotency import (
    IDEMPOTENCY_HEADER, IDEMPOTENCY_HEADER_DOC, create_once, parsed_request_fingerprint, request_fingerprint,
    validate_key,
)
from openrcm_shared.http.tenancy import TENANT_HEADER_DOC
from openrcm_shared.audit import audited
from openrcm_shared.http.media_types import is_json_media_type
from openrcm_shared.http.openapi_docs import problem_doc, problem_responses
from openrcm_shared.http.problems import Problem
from openrcm_shared.messaging.outbox import staged_count
from openrcm_shared.security.authorization import authorize, security_doc
from openrcm_shared.security.practice import ClaimsRead
from openrcm_shared.security.scopes import Scope

router = APIRouter(prefix="/fhir", tags=["FHIR"])
FHIR_JSON = "application/fhir+json"
# The POSTs read their headers themselves, as POST /v1/encounters does (FastAPI's dependency
# solving was a fifth of the JSON intake's API CPU per claim); documented as parameters would be.
_POST_DOC = {"parameters": [IDEMPOTENCY_HEADER_DOC, TENANT_HEADER_DOC], **security_doc(Scope.CLAIMS_WRITE)}


def _resource_schema(resource_type: str, required: list[str], **properties: dict) -> dict:
    """The outline of a FHIR R4 resource the OpenAPI shows (the full definitions are HL7's)."""
    return {"type": "object", "required": ["resourceType", *required],
            "properties": {"resourceType": {"type": "string", "enum": [resource_type]}, **properties}}


_CLAIM = _resource_schema("Claim", [], status={"type": "string"}, item={"type": "array", "items": {"type": "object"}})
_CLAIM_RESPONSE = _resource_schema("ClaimResponse", ["outcome"], id={"type": "string"}, outcome={"type": "string"})
_BUNDLE = _resource_schema("Bundle", ["type"], type={"type": "string"},
                           entry={"type": "array", "items": {"type": "object"}})
_OPERATION_OUTCOME = _resource_schema("OperationOutcome", ["issue"], issue={"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["severity", "code"], "properties": {
        "severity": {"type": "string"}, "code": {"type": "string"}, "diagnostics": {"type": "string"},
        "expression": {"type": "array", "items": {"type": "string"}}}}})


def _resource_doc(description: str, schema: dict) -> dict:
    return {"description": description, "content": {FHIR_JSON: {"schema": schema}}}


def _outcome_doc(status: int, description: str, *, or_problem: bool = False) -> dict:
    """An OperationOutcome answer; with `or_problem`, also the problem+json of the checks every
    route makes before this one reads its body (the X-Tenant-Id header: 400, 422)."""
    if or_problem:
        return problem_doc(status, description, also={FHIR_JSON: {"schema": _OPERATION_OUTCOME}})
    return _resource_doc(description, _OPERATION_OUTCOME)


def _body_doc(schema: dict) -> dict:
    """The body is read by the route (any JSON media type: FHIR clients send application/fhir+json
    or application/json)."""
    return {"requestBody": {"required": True, "content": {FHIR_JSON: {"schema": schema},
                                                          "application/json": {"schema": schema}}}}


_POST_RESPONSES = {
    **problem_responses(413),
    400: _outcome_doc(400, "Not JSON (OperationOutcome), or an invalid X-Tenant-Id (problem)", or_problem=True),
    404: _outcome_doc(404, "A resource the Claim refers to (its payer, say) is not registered in this practice"),
    409: _outcome_doc(409, "The EHR's claim id was taken already, or the same Idempotency-Key is in flight"),
    415: _outcome_doc(415, "Not sent as FHIR JSON (application/fhir+json or application/json)"),
    422: _outcome_doc(422, "OperationOutcome naming each problem by FHIRPath (or a problem for the "
                           "X-Tenant-Id header)", or_problem=True)}
_NOT_FOUND = _outcome_doc(404, "No such resource in this practice")


def _outcome(status: int, issues: list[Issue]) -> JSONResponse:
    return JSONResponse(operation_outcome(issues), status_code=status, media_type=FHIR_JSON)


def _problem_outcome(problem: Problem) -> JSONResponse:
    code = {409: "conflict", 422: "invalid", 400: "structure"}.get(problem.status, "processing")
    issues = [Issue(code, e["pointer"], e["detail"]) for e in problem.errors or []] or \
             [Issue(code, "", problem.detail or problem.title)]
    return JSONResponse(operation_outcome(issues), status_code=problem.status, media_type=FHIR_JSON,
                        headers=problem.headers)


async def _create_once(request: Request, tenant_id: str, idempotency_key: str | None, work,
                       location=None) -> Response:
    """Run `work(conn) -> (status, FHIR resource)` once per Idempotency-Key, in one transaction;
    a Refused is answered with its OperationOutcome and writes nothing."""
    if not is_json_media_type(request.headers.get("content-type")):  # RFC 9110 §15.5.16
        return _outcome(415, [Issue("not-supported", "", "send the body as application/fhir+json")])
    runtime = request.app.state.runtime
    body = await request.body()
    staged_before = staged_count()

    async def create(conn):
        status, resource = await work(conn, json_body(body))
        return status, fhir_json(resource)

    try:
        key = validate_key(idempotency_key)
        stored = await create_once(runtime.engine, tenant_id=tenant_id, key=key, create=create,
                                   fingerprint=request_fingerprint(request.method, request.url.path, body) if key else "")
    except Refused as refused:
        return _outcome(refused.status, refused.issues)
    except Problem as problem:  # the Idempotency-Key's own problems (reused, in flight, invalid)
        return _problem_outcome(problem)
    headers = {}
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
    elif staged_count() > staged_before:
        runtime.events_staged()
    if location is not None and stored.status == 201:
        headers["Location"] = location(stored.body)
    return Response(stored.body, status_code=stored.status, media_type=FHIR_JSON, headers=headers)


def _claim_location(body: bytes) -> str:
    return "/fhir/" + json.loads(body)["request"]["reference"]


@router.post("/Claim", status_code=201, openapi_extra={**_body_doc(_CLAIM), **_POST_DOC},
             responses={201: _resource_doc("ClaimResponse", _CLAIM_RESPONSE), **_POST_RESPONSES})
async def post_fhir_claim(request: Request) -> Response:
    """Take one FHIR R4 Claim (its parties contained, or registered and referenced as
    `Patient/{id}`, `Coverage/{id}`, `Practitioner/{npi}`, `Organization/{npi or payer id}`)."""
    tenant_id = (await authorize(request, Scope.CLAIMS_WRITE)).tenant_id
    idempotency_key = request.headers.get(IDEMPOTENCY_HEADER)
    fast = await _take_at_once(request, tenant_id, idempotency_key)
    if fast is not None:
        return fast

    async def work(conn, raw):
        taken = await take_claim(conn, tenant_id, parse_claim(raw), Resolver())
        return 201, taken.response()

    return await _create_once(request, tenant_id, idempotency_key, work, location=_claim_location)


async def _take_at_once(request: Request, tenant_id: str, idempotency_key: str | None) -> Response | None:
    """The Claim taken by the intake's one-statement path (fhir_intake.take_claim_at_once), key and
    answer written with it; None: for the general path (a refusal, a replay, a registered party, an
    invalid key), which answers it."""
    body = await request.body()
    try:
        key = validate_key(idempotency_key)
        parsed = json_body(body)
        claim = parse_claim(parsed)
    except (Problem, Refused):
        return None
    fingerprint = parsed_request_fingerprint(request.method, request.url.path, parsed) if key else ""
    taken = await take_claim_at_once(request.app.state.runtime.engine, tenant_id, claim, key, fingerprint)
    if taken is None:
        return None
    return Response(taken[1], status_code=201, media_type=FHIR_JSON,
                    headers={"Location": f"/fhir/Claim/{taken[0].claim.id}"})


async def _take_bundle_at_once(request: Request, tenant_id: str) -> Response | None:
    """An unkeyed batch or collection Bundle taken Claim by Claim the one-statement way
    (fhir_intake.take_bundle_at_once); None for the general path (a refused Bundle, a transaction,
    a Bundle repeating a Claim's identifier), which answers it."""
    if not is_json_media_type(request.headers.get("content-type")):
        return None
    try:
        bundle = parse_bundle(json_body(await request.body()))
    except Refused:
        return None
    staged_before = staged_count()
    answer = await take_bundle_at_once(request.app.state.runtime.engine, tenant_id, bundle)
    if answer is None:
        return None
    if staged_count() > staged_before:  # a Claim taken the general way staged its events
        request.app.state.runtime.events_staged()
    return Response(fhir_json(answer), status_code=200, media_type=FHIR_JSON)


@router.post("", openapi_extra={**_body_doc(_BUNDLE), **_POST_DOC},
             responses={200: _resource_doc("transaction-response or batch-response Bundle", _BUNDLE), **_POST_RESPONSES})
async def post_fhir_bundle(request: Request) -> Response:
    """Take the Claims of a transaction (all or nothing), batch or collection Bundle, their parties
    in the Bundle (resolved by fullUrl), contained or registered."""
    tenant_id = (await authorize(request, Scope.CLAIMS_WRITE)).tenant_id
    idempotency_key = request.headers.get(IDEMPOTENCY_HEADER)
    if idempotency_key is None:
        fast = await _take_bundle_at_once(request, tenant_id)
        if fast is not None:
            return fast

    async def work(conn, raw):
        return 200, await take_bundle(conn, tenant_id, parse_bundle(raw))

    return await _create_once(request, tenant_id, idempotency_key, work)


def _claim_id(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


async def _read(request: Request, tenant_id: str, claim_id: str, kind: str, read) -> Response:
    parsed = _claim_id(claim_id)
    async with snapshot(request.app.state.runtime.engine) as conn:
        resource = await read(conn, tenant_id, parsed) if parsed else None
    if resource is None:
        return _outcome(404, [Issue("not-found", "", f"no {kind} {claim_id!r} in this practice")])
    return Response(fhir_json(resource), media_type=FHIR_JSON)


@router.get("/Claim/{claim_id}", responses={200: _resource_doc("Claim", _CLAIM), 404: _NOT_FOUND})
@audited("read", "claim", resource_id="claim_id")
async def get_fhir_claim(claim_id: str, request: Request, tenant_id: ClaimsRead) -> Response:
    """The claim as it was taken (every party resolved and contained)."""
    return await _read(request, tenant_id, claim_id, "Claim", claim_as_fhir)


@router.get("/ClaimResponse/{claim_id}", responses={200: _resource_doc("ClaimResponse", _CLAIM_RESPONSE),
                                                    404: _NOT_FOUND})
@audited("read", "claim_response", resource_id="claim_id")
async def get_fhir_claim_response(claim_id: str, request: Request, tenant_id: ClaimsRead) -> Response:
    """Where the claim stands; once its payer has adjudicated: outcome, payment and item
    adjudication from the 835 (a reversed decision no longer counts)."""
    return await _read(request, tenant_id, claim_id, "ClaimResponse", claim_response_as_fhir)
