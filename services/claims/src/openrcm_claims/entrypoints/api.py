"""The claims API: encounters in from the EHR, claims out to billing staff."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from openrcm_claims.adapters.queries import list_claims, load_claim
from openrcm_claims.adapters.tables import claim_submissions, submissions
from openrcm_claims.entrypoints.schemas import (
    BatchItemOut, ClaimOut, ClaimSummaryOut, EncounterBatchIn, EncounterBatchOut, EncounterIn, LateChargesIn,
)
from openrcm_claims.service_layer.corrections import add_late_charges, correct_claim, replace_claim, void_claim
from openrcm_claims.service_layer.submission import IdempotentIntake, submit_encounter, take_simple_encounter
from openrcm_shared.audit import audited, record_change
from openrcm_shared.db import snapshot
from openrcm_shared.http.bodies import json_body, json_body_doc
from openrcm_shared.http.idempotency import (
    IDEMPOTENCY_HEADER, IDEMPOTENCY_HEADER_DOC, idempotent_create, request_fingerprint, validate_key,
)
from openrcm_shared.http.pagination import Page
from openrcm_shared.http.openapi_docs import BODY_PROBLEMS, problem_doc, problem_responses
from openrcm_shared.http.problems import Problem, field_error, json_pointer
from openrcm_shared.http.tenancy import TENANT_HEADER_DOC
from openrcm_shared.security.authorization import authorize, security_doc
from openrcm_shared.security.scopes import Scope
from openrcm_shared.security.practice import ClaimsRead, ClaimsWrite

router = APIRouter(prefix="/v1", tags=["claims"])

ClaimStatusFilter = Literal["held", "ready", "submitted", "accepted_by_clearinghouse", "accepted_by_payer",
                            "rejected", "paid", "partially_paid", "denied", "voided"]


def _check_encounter(encounter: EncounterIn) -> None:
    """Rules that span fields (each party once, what each setting needs, pointers in range): 422 naming each."""
    problems = encounter.consistency_errors()
    if problems:
        raise Problem(422, "The request has invalid fields", type_="validation-error",
                      errors=[field_error(pointer, message) for pointer, message in problems])


# The intake's hot path reads its body and headers itself: FastAPI's dependency solving (header
# parameters, the tenant dependency, the body) was a fifth of the claims API's CPU per encounter.
# openapi_extra documents them (and the scope it authorizes) as the parameters would.
_ENCOUNTER_DOC = {**json_body_doc(EncounterIn), "parameters": [IDEMPOTENCY_HEADER_DOC, TENANT_HEADER_DOC],
                  **security_doc(Scope.CLAIMS_WRITE)}


@router.post("/encounters", status_code=201, response_model=ClaimOut, openapi_extra=_ENCOUNTER_DOC,
             responses={**BODY_PROBLEMS,
                        409: problem_doc(409, "Encounter already submitted, or same Idempotency-Key in flight"),
                        422: problem_doc(422, "Invalid fields, or Idempotency-Key reused with another body")})
@audited("create", "claim", resource_id="id", patient_id="patient_id")
async def post_encounter(request: Request) -> Response:
    """An EHR posts a completed encounter; the claim is created and ClaimSubmitted published."""
    tenant_id = (await authorize(request, Scope.CLAIMS_WRITE)).tenant_id
    idempotency_key = validate_key(request.headers.get(IDEMPOTENCY_HEADER))
    encounter = await json_body(request, EncounterIn)
    _check_encounter(encounter)
    answers: list[bytes] = []  # the 201's body, made once: stored under the key and sent

    def answer(claim: ClaimOut) -> bytes:
        answers.append(claim.model_dump_json().encode())
        return answers[-1]

    keyed = None
    if idempotency_key is not None:  # the key and its answer are written by the claim's own statement
        keyed = IdempotentIntake(idempotency_key, request_fingerprint(request.method, request.url.path,
                                                                      await request.body()), answer)
    claim = await take_simple_encounter(request.app.state.runtime.engine, tenant_id, encounter, keyed=keyed)
    if claim is not None:
        return Response(answers[-1] if answers else claim.model_dump_json(), status_code=201,
                        media_type="application/json", headers={"Location": f"/v1/claims/{claim.id}"})
    return await idempotent_create(
        request, tenant_id=tenant_id, idempotency_key=idempotency_key,
        create=lambda conn: submit_encounter(conn, tenant_id, encounter),
        location=lambda claim: f"/v1/claims/{claim.id}", response_model=ClaimOut)


@router.post("/encounter-batches", response_model=EncounterBatchOut, responses=BODY_PROBLEMS)
@audited("create", "claim", resource_id="id", patient_id="patient_id")
async def post_encounter_batch(batch: EncounterBatchIn, request: Request, tenant_id: ClaimsWrite) -> EncounterBatchOut:
    """Many encounters at once; each is taken (201) or refused (its problem, with pointers under
    /encounters/{index}) on its own, in its own transaction."""
    results: dict[int, BatchItemOut] = {}
    for wave in _waves(batch.encounters):
        for start in range(0, len(wave), BATCH_CONCURRENCY):
            chunk = wave[start:start + BATCH_CONCURRENCY]
            taken = await asyncio.gather(*(_take_one(request, tenant_id, index, batch.encounters[index])
                                           for index in chunk))
            results.update(zip(chunk, taken))
    request.app.state.runtime.events_staged()
    ordered = [results[index] for index in range(len(batch.encounters))]
    created = sum(1 for r in ordered if r.status == 201)
    return EncounterBatchOut(created=created, failed=len(ordered) - created, results=ordered)


# A batch's encounters are taken concurrently, this many at a time: their one-statement writes
# share round trips and commits (claim_writes.NewClaimsAlone's group commit) instead of one
# transaction after another; bounded, so a large batch does not take every pooled connection.
BATCH_CONCURRENCY = 64


def _waves(encounters: list[dict]) -> list[list[int]]:
    """Indexes in waves taken one after another: an encounter id repeated in the batch goes in a
    later wave than its first occurrence, so the first is taken (201) and the repeat refused (409),
    as if the batch were taken in order."""
    waves: list[list[int]] = []
    seen: dict[object, int] = {}
    for index, raw in enumerate(encounters):
        key = raw.get("encounter_id") if isinstance(raw, dict) else None
        wave = seen.get(key, -1) + 1 if isinstance(key, str) else 0
        if isinstance(key, str):
            seen[key] = wave
        while len(waves) <= wave:
            waves.append([])
        waves[wave].append(index)
    return waves


async def _take_one(request: Request, tenant_id: str, index: int, raw: dict) -> BatchItemOut:
    prefix = f"/encounters/{index}"
    try:
        encounter = EncounterIn.model_validate(raw)
        _check_encounter(encounter)
        engine = request.app.state.runtime.engine
        claim = await take_simple_encounter(engine, tenant_id, encounter)
        if claim is None:  # the general way: each of its cases answered, in a transaction of its own
            async with engine.begin() as conn:
                claim = await submit_encounter(conn, tenant_id, encounter)
                await record_change(conn, resource=claim)
        return BatchItemOut(index=index, status=201, claim=claim)
    except ValidationError as invalid:
        errors = [field_error(prefix + json_pointer(("body", *e["loc"])), e["msg"]) for e in invalid.errors()]
        return BatchItemOut(index=index, status=422, problem={"title": "The encounter has invalid fields",
                                                              "errors": errors})
    except Problem as refused:
        errors = [{**e, "pointer": prefix + e["pointer"]} for e in refused.errors or []]
        return BatchItemOut(index=index, status=refused.status, problem={"title": refused.title,
                                                                         "detail": refused.detail, "errors": errors})


@router.post("/claims/{claim_id}/charges", response_model=ClaimOut,
             responses={**BODY_PROBLEMS, **problem_responses(404),
                        409: problem_doc(409, "The claim already went out")})
@audited("update", "claim", resource_id="claim_id", patient_id="patient_id")
async def post_late_charges(claim_id: UUID, charges: LateChargesIn, request: Request,
                            tenant_id: ClaimsWrite) -> ClaimOut:
    """Add late charges to a claim that has not gone out yet (held, ready or rejected); it is
    scrubbed again as a new version."""
    return await _change_and_show(request, tenant_id, claim_id,
                                  lambda conn: add_late_charges(conn, tenant_id, claim_id, charges.lines))


@router.put("/claims/{claim_id}/encounter", response_model=ClaimOut,
            responses={**BODY_PROBLEMS, **problem_responses(404),
                       409: problem_doc(409, "The claim is with the payer: replace or void it instead")})
@audited("update", "claim", resource_id="claim_id", patient_id="patient_id")
async def put_claim_encounter(claim_id: UUID, encounter: EncounterIn, request: Request,
                              tenant_id: ClaimsWrite) -> ClaimOut:
    """Correct a held, ready or rejected claim: a new version, scrubbed again, sent with the next batch."""
    _check_encounter(encounter)
    return await _change_and_show(request, tenant_id, claim_id,
                                  lambda conn: correct_claim(conn, tenant_id, claim_id, encounter))


@router.post("/claims/{claim_id}/replace", response_model=ClaimOut,
             responses={**BODY_PROBLEMS, **problem_responses(404),
                        409: problem_doc(409, "The payer does not have this claim (no payer claim control number)"),
                        422: problem_doc(422, "Invalid fields, or the payer takes only new claims (frequency 1)")})
@audited("replace", "claim", resource_id="claim_id", patient_id="patient_id")
async def post_claim_replacement(claim_id: UUID, encounter: EncounterIn, request: Request,
                                 tenant_id: ClaimsWrite) -> ClaimOut:
    """Replace the claim the payer has (frequency 7, REF*F8 = its payer claim control number)."""
    _check_encounter(encounter)
    return await _change_and_show(request, tenant_id, claim_id,
                                  lambda conn: replace_claim(conn, tenant_id, claim_id, encounter))


@router.post("/claims/{claim_id}/void", response_model=ClaimOut,
             responses={**problem_responses(404),
                        409: problem_doc(409, "The payer does not have this claim (no payer claim control number)"),
                        422: problem_doc(422, "Invalid fields, or the payer takes only new claims (frequency 1)")})
@audited("void", "claim", resource_id="claim_id", patient_id="patient_id")
async def post_claim_void(claim_id: UUID, request: Request, tenant_id: ClaimsWrite) -> ClaimOut:
    """Void the claim the payer has (frequency 8); it is voided once the payer accepts the void."""
    return await _change_and_show(request, tenant_id, claim_id, lambda conn: void_claim(conn, tenant_id, claim_id))


async def _change_and_show(request: Request, tenant_id: str, claim_id: UUID, change) -> ClaimOut:
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        await change(conn)
        changed = await load_claim(conn, tenant_id, claim_id)
        await record_change(conn, resource=changed)
    runtime.events_staged()
    return changed


@router.get("/claims/{claim_id}", response_model=ClaimOut, responses=problem_responses(404))
@audited("read", "claim", resource_id="claim_id", patient_id="patient_id")
async def get_claim(claim_id: UUID, request: Request, tenant_id: ClaimsRead) -> ClaimOut:
    """The claim, its lines, status and history (its timeline), as of one moment."""
    async with snapshot(request.app.state.runtime.engine) as conn:
        claim = await load_claim(conn, tenant_id, claim_id)
    if claim is None:
        raise Problem(404, "Claim not found", type_="not-found")
    return claim


@router.get("/claims/{claim_id}/x12", response_class=Response,
            responses={200: {"content": {"application/edi-x12": {"schema": {"type": "string"}}}},
                       404: problem_doc(404, "No such claim, or not sent yet")})
@audited("read", "claim_837", resource_id="claim_id")
async def get_claim_x12(claim_id: UUID, request: Request, tenant_id: ClaimsRead) -> Response:
    """The 837 file this claim was last sent in, byte for byte."""
    async with request.app.state.runtime.engine.connect() as conn:
        raw = (await conn.execute(
            sa.select(submissions.c.raw_x12)
            .join(claim_submissions, claim_submissions.c.submission_id == submissions.c.id)
            .where(claim_submissions.c.claim_id == claim_id, submissions.c.tenant_id == tenant_id)
            .order_by(submissions.c.created_at.desc()).limit(1))).scalar()
    if raw is None:
        raise Problem(404, "No 837 for this claim yet", type_="not-found")
    return Response(raw, media_type="application/edi-x12")


@router.get("/claims", response_model=Page[ClaimSummaryOut])
@audited("list", "claim")
async def get_claims(request: Request, tenant_id: ClaimsRead, status: ClaimStatusFilter | None = None,
                     follow_up: bool = False, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[ClaimSummaryOut]:
    """Claims, newest first, optionally by status; follow next_cursor for the next page."""
    async with request.app.state.runtime.engine.connect() as conn:
        items, next_cursor = await list_claims(conn, tenant_id, status=status, follow_up=follow_up, cursor=cursor,
                                               limit=limit)
    return Page[ClaimSummaryOut](items=items, next_cursor=next_cursor)
