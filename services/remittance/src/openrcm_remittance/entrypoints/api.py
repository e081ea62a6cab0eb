"""The remittance API: 835 files in (raw, multipart), manual postings, the review queues, the ledger."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from openrcm_remittance.adapters.tables import (
    claim_payments, expected_claims, journal_entries, remittance_files, remittances, unmatched_items,
)
from openrcm_remittance.entrypoints.schemas import (
    BilledClaimOut, ClaimLedgerOut, FilesOut, JournalEntryOut, ManualMatchIn, ManualMatchOut, PostedClaimOut, RemittanceFileOut,
    RemittanceIn, RemittanceOut, RemittanceSummaryOut, TransactionOut, UnmatchedItemOut,
)
from openrcm_remittance.service_layer import era_intake
from openrcm_remittance.service_layer.files import body_of, chunks_of, content_pruned_at, received_whole, store_file
from openrcm_remittance.service_layer.posting import post_manual_remittance
from openrcm_remittance.service_layer.review import match_item
from openrcm_shared.audit import audited
from openrcm_shared.db import snapshot
from openrcm_shared.http.bodies import json_body
from openrcm_shared.http.idempotency import idempotent_create
from openrcm_shared.http.inbound import X12_MEDIA_TYPES, takes_files
from openrcm_shared.http.json_checks import is_storable
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.openapi_docs import BODY_PROBLEMS, problem_doc, problem_responses, schema_ref
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.http.resources import get_or_404
from openrcm_shared.security.practice import RemittanceRead, RemittanceWrite, RemittanceWriter

router = APIRouter(prefix="/v1", tags=["remittance"])

_BODY_DOC = {"requestBody": {"content": {
    "application/edi-x12": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
    "application/json": {"schema": schema_ref(RemittanceIn)},
}, "required": True}}


def _runtime(request: Request):
    return request.app.state.runtime


@router.post("/remittances", status_code=201, openapi_extra=_BODY_DOC,
             responses={
                 200: {"description": "Every payment in it was already posted (a duplicate); for multipart, one "
                                      "result per file", "model": RemittanceFileOut | FilesOut},
                 201: {"description": "Posted (X12: the file's result; JSON: the remittance)",
                       "model": RemittanceFileOut | RemittanceOut},
                 202: {"description": "Stored; at least one payment is held for review", "model": RemittanceFileOut},
                 **BODY_PROBLEMS,
                 409: problem_doc(409, "(JSON) the payment (payer + trace number + amount) was already posted, "
                                       "or the same Idempotency-Key is in flight"),
                 415: problem_doc(415, "Not X12, multipart or JSON"),
                 422: problem_doc(422, "Malformed X12: the stored file, `rejected`, with the error naming the "
                                       "segment and element (application/json); or invalid JSON fields",
                                  also={"application/json": {"schema": schema_ref(RemittanceFileOut)}})})
@audited("create", "remittance", resource_id="id")
@takes_files()  # an 835 may be as large as OPENRCM_MAX_BODY_BYTES_X12
async def receive_remittance(request: Request, tenant_id: RemittanceWrite,
                             idempotency_key: Annotated[str | None, Header()] = None) -> Response:
    """Post payer payments. Three forms on one path, by Content-Type:

    - `application/edi-x12`: an 835 file as the raw body. Stored with its SHA-256 first; each
      transaction set (payment) is then posted all or nothing: 201 when all posted, 202 when any is
      held for review (unbalanced, or a claim or line not matched), 200 when the file or every
      payment in it was posted before (nothing posted twice), 422 naming the segment when the X12
      is malformed (the file stays stored).
    - `multipart/form-data`: many 835 files (any part names); 200 with one result per file.
    - `application/json`: one payment keyed by hand from a paper EOB; every mistake comes back as
      a 422 naming the field and nothing is posted until it is right.
    """
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type in X12_MEDIA_TYPES:
        with await received_whole(request.stream()) as body:  # all of it, before the transaction opens
            stored = await store_file(_runtime(request).engine, chunks_of(body), scope=tenant_id,
                                      tenant_id=tenant_id, source="upload", content_type=content_type,
                                      filename=request.headers.get("x-filename"))
        result = await _process(request, stored)
        return JSONResponse(result.model_dump(mode="json"), status_code=_file_status(result),
                            headers={"Location": f"/v1/remittance-files/{result.id}"})
    if content_type == "multipart/form-data":
        return await _receive_multipart(request, tenant_id)
    if content_type == "application/json":
        return await _receive_json(request, tenant_id, idempotency_key)
    raise Problem(415, "Unsupported media type", "Send an 835 as application/edi-x12, several as "
                  "multipart/form-data, or a manual posting as application/json.", type_="unsupported-media-type",
                  errors=[field_error("/header/Content-Type", f"{content_type or 'missing'} is not accepted")])


async def _process(request: Request, stored) -> RemittanceFileOut:
    """Post the practice's stored file as the system role, like every 835 (ERA posting and its
    workers stream their rows by COPY; the file names its practice, and attribution and matching
    are limited to it), then show it as the practice sees it. A re-upload of a file whose posting
    did not finish posts it now (process_file does nothing for a file done or being posted)."""
    if await era_intake.process_file(_runtime(request).system_engine, stored.id) is not None:
        _runtime(request).events_staged()
    return await file_view(_runtime(request).engine, stored.id)


def _file_status(result: RemittanceFileOut) -> int:
    if result.status == "rejected":
        return 422
    statuses = {t.status for t in result.transactions}
    if result.duplicate or statuses == {"duplicate"}:
        return 200
    return 202 if "held" in statuses or result.status != "processed" else 201


async def _receive_multipart(request: Request, tenant_id: str) -> JSONResponse:
    form = await request.form(max_files=100, max_fields=100)
    uploads = [value for _, value in form.multi_items() if hasattr(value, "read")]
    if not uploads:
        raise Problem(422, "No files", "Send the 835 files as file parts of the form.", type_="validation-error",
                      errors=[field_error("/files", "no file parts")])
    _check_part_headers(uploads)
    results = []
    try:
        for upload in uploads:
            stored = await store_file(_runtime(request).engine, _read_upload(upload), scope=tenant_id,
                                      tenant_id=tenant_id, source="upload", filename=upload.filename,
                                      content_type=upload.content_type)
            results.append(await _process(request, stored))
    finally:
        await form.close()
    return JSONResponse(FilesOut(files=results).model_dump(mode="json"), status_code=200)


def _check_part_headers(uploads) -> None:
    """A part's file name and media type are stored as text: one PostgreSQL cannot hold (a NUL
    from the part's headers) is refused, naming the part."""
    errors = [field_error(f"/files/{index}/{name}", "contains a NUL character, which cannot be stored")
              for index, upload in enumerate(uploads) for name in ("filename", "content_type")
              if getattr(upload, name) is not None and not is_storable(getattr(upload, name))]
    if errors:
        raise Problem(422, "The request has invalid fields", type_="validation-error", errors=errors)


async def _read_upload(upload):
    while chunk := await upload.read(1 << 20):
        yield chunk


async def _receive_json(request: Request, tenant_id: str, idempotency_key: str | None) -> Response:
    remittance = await json_body(request, RemittanceIn)
    engine = _runtime(request).engine

    async def create(conn) -> RemittanceOut:
        outcome = await post_manual_remittance(conn, engine, tenant_id, remittance)
        return await remittance_view(conn, tenant_id, outcome.remittance_id)

    return await idempotent_create(request, tenant_id=tenant_id, idempotency_key=idempotency_key, create=create,
                                   location=lambda stored: f"/v1/remittances/{stored.id}", response_model=RemittanceOut)


# ------------------------------------------------------------------------------------------ reading


async def file_view(engine, file_id: UUID, tenant_id: str | None = None) -> RemittanceFileOut:
    async with engine.connect() as conn:
        query = sa.select(remittance_files).where(remittance_files.c.id == file_id)
        if tenant_id is not None:
            query = query.where(remittance_files.c.tenant_id == tenant_id)
        row = (await conn.execute(query)).first()
    if row is None:
        raise Problem(404, "File not found", type_="not-found")
    return RemittanceFileOut(
        id=row.id, filename=row.filename, sha256=row.sha256, size_bytes=row.size_bytes, source=row.source,
        status=row.status, duplicate=row.status == "duplicate", duplicate_of=row.duplicate_of,
        received_at=row.received_at, processed_at=row.processed_at, error=row.error,
        transactions=[TransactionOut.model_validate(t) for t in row.result or []])


async def remittance_view(conn, tenant_id: str, remittance_id: UUID) -> RemittanceOut:
    header = (await conn.execute(sa.select(remittances).where(
        remittances.c.id == remittance_id, remittances.c.tenant_id == tenant_id))).first()
    if header is None:
        raise Problem(404, "Remittance not found", type_="not-found")
    payments = (await conn.execute(
        sa.select(claim_payments, expected_claims.c.patient_control_number)
        .join(expected_claims, expected_claims.c.claim_id == claim_payments.c.claim_id)
        .where(claim_payments.c.remittance_id == remittance_id).order_by(claim_payments.c.sequence))).all()
    return RemittanceOut(
        id=header.id, status=header.status, source=header.source, payer_id=header.payer_id,
        payer_name=header.payer_name, trace_number=header.trace_number, payment_amount=header.payment_amount,
        payment_date=header.payment_date, payment_method=header.payment_method,
        provider_adjustment_amount=header.provider_adjustment_amount, received_at=header.received_at,
        posted_at=header.posted_at, file_id=header.file_id, transaction_index=header.transaction_index,
        held_reasons=header.held_reasons or [], claims=[_posted_claim(p) for p in payments])


def _posted_claim(p) -> PostedClaimOut:
    return PostedClaimOut(
        payment_id=p.id, claim_id=p.claim_id, patient_control_number=p.patient_control_number, outcome=p.outcome,
        claim_status_code=p.claim_status_code, charge_amount=p.charge_amount, allowed_amount=p.allowed_amount,
        paid_amount=p.paid_amount, patient_responsibility_amount=p.patient_responsibility_amount,
        denied_amount=p.denied_amount, payer_claim_control_number=p.payer_claim_control_number,
        reversal_of=p.reversal_of, reversed_by=p.reversed_by, crossover_payer_name=p.crossover_payer_name,
        crossover_payer_id=p.crossover_payer_id)


@router.get("/remittances", response_model=Page[RemittanceSummaryOut])
@audited("list", "remittance")
async def list_remittances(request: Request, tenant_id: RemittanceRead, status: str | None = None,
                           cursor: str | None = None,
                           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[RemittanceSummaryOut]:
    """Remittances, newest first; `?status=held` is the review queue of payments not posted."""
    query = sa.select(remittances).where(remittances.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(remittances.c.status == status)
    async with _runtime(request).engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[remittances.c.received_at, remittances.c.id],
                                             cursor=cursor, limit=limit)
    return Page[RemittanceSummaryOut](items=[RemittanceSummaryOut(
        id=r.id, status=r.status, source=r.source, payer_id=r.payer_id, trace_number=r.trace_number,
        payment_amount=r.payment_amount, payment_date=r.payment_date, claim_count=r.claim_count,
        received_at=r.received_at, held_reasons=r.held_reasons or []) for r in rows], next_cursor=next_cursor)


# ------------------------------------------------------------------------------------- review queue


def _item_out(row) -> UnmatchedItemOut:
    return UnmatchedItemOut.model_validate(row._mapping)


@router.get("/remittances/unmatched", response_model=Page[UnmatchedItemOut])
@audited("list", "unmatched_item")
async def list_unmatched(request: Request, tenant_id: RemittanceRead, status: str = "open",
                         remittance_id: UUID | None = None, cursor: str | None = None,
                         limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[UnmatchedItemOut]:
    """Claims and lines of held ERAs that could not be tied to what was billed, newest first, each
    with scored candidates. Match one by hand with POST .../unmatched/{id}/match."""
    query = sa.select(unmatched_items).where(unmatched_items.c.tenant_id == tenant_id,
                                             unmatched_items.c.status == status)
    if remittance_id is not None:
        query = query.where(unmatched_items.c.remittance_id == remittance_id)
    async with _runtime(request).engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[unmatched_items.c.created_at,
                                                                    unmatched_items.c.id],
                                             cursor=cursor, limit=limit)
    return Page[UnmatchedItemOut](items=[_item_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/remittances/unmatched/{item_id}", response_model=UnmatchedItemOut, responses=problem_responses(404))
@audited("read", "unmatched_item", resource_id="item_id")
async def get_unmatched(item_id: UUID, request: Request, tenant_id: RemittanceRead) -> UnmatchedItemOut:
    async with _runtime(request).engine.connect() as conn:
        row = (await conn.execute(sa.select(unmatched_items).where(
            unmatched_items.c.id == item_id, unmatched_items.c.tenant_id == tenant_id))).first()
    if row is None:
        raise Problem(404, "Unmatched item not found", type_="not-found")
    return _item_out(row)


@router.post("/remittances/unmatched/{item_id}/match", response_model=ManualMatchOut,
             responses={**BODY_PROBLEMS, **problem_responses(404), 409: problem_doc(409, "Already matched")})
@audited("match", "unmatched_item", resource_id="item_id")
async def match_unmatched(item_id: UUID, body: ManualMatchIn, request: Request,
                         caller: RemittanceWriter) -> ManualMatchOut:
    """Tie an unmatched claim or line to a billed claim (and line) — recorded with who (the token's
    subject), when and why. When it was the ERA's last open item, the ERA is posted again at once."""
    row, open_left = await match_item(_runtime(request).engine, caller.tenant_id, item_id, body, matched_by=caller.actor)
    reposted = None
    if open_left == 0:  # the practice's own held ERA (matched above): posted again like any ERA
        outcome = await era_intake.reprocess_remittance(_runtime(request).system_engine, row.remittance_id)
        _runtime(request).events_staged()
        reposted = TransactionOut.model_validate(outcome.as_json())
    return ManualMatchOut(item=_item_out(row), open_items_left=open_left, remittance=reposted)


@router.post("/remittances/{remittance_id}/reprocess", response_model=TransactionOut,
             responses={**problem_responses(404), 409: problem_doc(409, "Not held: only a held 835 is posted again")})
@audited("post", "remittance", resource_id="remittance_id")
async def reprocess(remittance_id: UUID, request: Request, tenant_id: RemittanceWrite) -> TransactionOut:
    """Post a held ERA again from its stored file (after a fix: a manual match, a late claim)."""
    engine = _runtime(request).engine
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(remittances.c.status, remittances.c.file_id).where(
            remittances.c.id == remittance_id, remittances.c.tenant_id == tenant_id))).first()
    if row is None:
        raise Problem(404, "Remittance not found", type_="not-found")
    if row.status != "held" or row.file_id is None:
        raise Problem(409, "Not held", f"The remittance is {row.status}; only a held 835 can be posted again.",
                      type_="remittance-not-held")
    # The practice's own held ERA (checked above), posted again like any ERA: the system role.
    outcome = await era_intake.reprocess_remittance(_runtime(request).system_engine, remittance_id)
    _runtime(request).events_staged()
    return TransactionOut.model_validate(outcome.as_json())


@router.get("/remittances/{remittance_id}", response_model=RemittanceOut, responses=problem_responses(404))
@audited("read", "remittance", resource_id="remittance_id")
async def get_remittance(remittance_id: UUID, request: Request, tenant_id: RemittanceRead) -> RemittanceOut:
    async with snapshot(_runtime(request).engine) as conn:  # read in several statements: one snapshot
        return await remittance_view(conn, tenant_id, remittance_id)


@router.get("/remittance-files/{file_id}", response_model=RemittanceFileOut, responses=problem_responses(404))
@audited("read", "remittance_file", resource_id="file_id")
async def get_file(file_id: UUID, request: Request, tenant_id: RemittanceRead) -> RemittanceFileOut:
    return await file_view(_runtime(request).engine, file_id, tenant_id)


@router.get("/remittance-files/{file_id}/content", response_class=Response,
            responses={200: {"description": "The file's bytes", "content": {
                "application/edi-x12": {"schema": {"type": "string", "format": "binary"}}}}, **problem_responses(404),
                       410: problem_doc(410, "The bytes were deleted after the retention period; the receipt remains")})
@audited("read", "remittance_file", resource_id="file_id")
async def get_file_content(file_id: UUID, request: Request, tenant_id: RemittanceRead) -> Response:
    """The bytes exactly as they arrived."""
    view = await file_view(_runtime(request).engine, file_id, tenant_id)
    original = view.duplicate_of or view.id
    pruned_at = await content_pruned_at(_runtime(request).engine, original)
    if pruned_at is not None:
        raise Problem(410, "Content deleted",
                      f"The file's bytes were deleted on {pruned_at.date().isoformat()}, after the retention period "
                      "(OPENRCM_RETENTION_REMITTANCE_FILES_DAYS); its receipt remains.", type_="content-pruned")
    return Response(await body_of(_runtime(request).engine, original), media_type="application/edi-x12",
                    headers={"Digest": f"sha-256={view.sha256}"} if view.sha256 else None)


@router.get("/billed-claims/{claim_id}", response_model=BilledClaimOut, responses=problem_responses(404))
@audited("read", "billed_claim", resource_id="claim_id", patient_id="patient_id")
async def billed_claim(claim_id: UUID, request: Request, tenant_id: RemittanceRead) -> BilledClaimOut:
    """What this service knows was billed (from ClaimSubmitted): what ERAs are matched against."""
    return await get_or_404(request, BilledClaimOut, expected_claims, tenant_id,
                            title="No submitted claim with this id is known here", claim_id=claim_id)


@router.get("/claims/{claim_id}/ledger", response_model=ClaimLedgerOut, responses=problem_responses(404))
@audited("read", "claim_ledger", resource_id="claim_id")
async def claim_ledger(claim_id: UUID, request: Request, tenant_id: RemittanceRead) -> ClaimLedgerOut:
    """Every payment decision posted on a claim and its journal entries, with balances per account
    (one snapshot: the payments, entries and balances agree)."""
    async with snapshot(_runtime(request).engine) as conn:
        payments = (await conn.execute(
            sa.select(claim_payments, expected_claims.c.patient_control_number)
            .join(expected_claims, expected_claims.c.claim_id == claim_payments.c.claim_id)
            .join(remittances, remittances.c.id == claim_payments.c.remittance_id)
            .where(claim_payments.c.claim_id == claim_id, claim_payments.c.tenant_id == tenant_id)
            .order_by(remittances.c.received_at, claim_payments.c.sequence))).all()
        entries = (await conn.execute(sa.select(journal_entries).where(
            journal_entries.c.claim_id == claim_id, journal_entries.c.tenant_id == tenant_id)
            .order_by(journal_entries.c.id))).all()
    if not payments:
        raise Problem(404, "Nothing posted on this claim", type_="not-found")
    balances: dict = {}
    for entry in entries:
        balances[entry.account] = balances.get(entry.account, 0) + entry.amount
    return ClaimLedgerOut(
        claim_id=claim_id, payments=[_posted_claim(p) for p in payments],
        entries=[JournalEntryOut.model_validate(e._mapping) for e in entries], balances=balances)
