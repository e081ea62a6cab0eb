"""The eligibility API: checks asked of payers (real time and batch), answers uploaded or recorded
by hand, and what is known of each coverage."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from openrcm_eligibility.adapters.tables import eligibility_checks
from openrcm_eligibility.entrypoints.schemas import (
    CheckSummaryOut, CoverageEligibilityOut, EligibilityBatchIn, EligibilityBatchOut, EligibilityCheckIn,
    EligibilityCheckOut, EligibilityCheckRequest, EstimateOut, EstimateRequest, UploadOut,
)
from openrcm_eligibility.service_layer.estimates import good_faith_estimate, insured_estimate, self_pay_estimate
from openrcm_eligibility.service_layer.announcements import finish_batch_if_done
from openrcm_eligibility.service_layer.batches import batch_view, create_batch
from openrcm_eligibility.service_layer.checks import CheckRequest, coverage_or_none
from openrcm_eligibility.service_layer.realtime import check_now, coverage_not_found
from openrcm_eligibility.service_layer.recorded import record_check
from openrcm_eligibility.service_layer.response_files import response_text
from openrcm_eligibility.service_layer.uploads import apply_answers
from openrcm_shared.audit import audited, record_change
from openrcm_shared.http.bodies import json_body
from openrcm_shared.http.idempotency import idempotent_create
from openrcm_shared.http.inbound import X12_MEDIA_TYPES, takes_files
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.openapi_docs import schema_ref
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.security.practice import EligibilityRead, EligibilityWrite
from openrcm_shared.x12.eligibility_271 import parse_271
from openrcm_shared.x12.reader import X12Error

router = APIRouter(prefix="/v1", tags=["eligibility"])
_RAW = ("request_x12", "response_x12")
_STORED_271 = ("response_file_id", "response_location")
_COLUMNS = [eligibility_checks.c[name] for name in EligibilityCheckOut.model_fields
            if name in eligibility_checks.c and name not in _RAW]
_LIST_COLUMNS = [column for column in _COLUMNS if column.name != "result"]
_NOT_FOUND = {404: {"description": "No such check in this practice"}}


def _runtime(request: Request):
    return request.app.state.runtime


async def _check(request: Request, tenant_id: str, check_id: UUID, *, include_x12: bool = False,
                 cached: bool = False) -> EligibilityCheckOut:
    columns = _COLUMNS + ([eligibility_checks.c[name] for name in _RAW + _STORED_271] if include_x12 else [])
    async with _runtime(request).engine.connect() as conn:
        row = (await conn.execute(sa.select(*columns).where(eligibility_checks.c.tenant_id == tenant_id,
                                                            eligibility_checks.c.id == check_id))).first()
        if row is None:
            raise Problem(404, "Eligibility check not found", type_="not-found")
        values = dict(row._mapping)
        file_id, location = (values.pop(name, None) for name in _STORED_271)
        if file_id is not None and values["response_x12"] is None:  # answered by an uploaded file
            values["response_x12"] = await response_text(conn, file_id, location)
    return EligibilityCheckOut(**values, cached=cached)


@router.post("/eligibility-checks", response_model=EligibilityCheckOut,
             responses={200: {"description": "Answered: by the payer within the real-time timeout, or from the "
                                             "cache (`cached`)"},
                        202: {"description": "Asked; the payer has not answered yet (GET the Location later)"},
                        404: {"description": "The coverage is not registered"},
                        422: {"description": "Invalid fields, an ambiguous coverage id, or a registration a 270 "
                                             "cannot carry"}})
@audited("create", "eligibility_check", resource_id="id", patient_id="patient_id")
async def post_eligibility_check(check: EligibilityCheckRequest, request: Request,
                                 tenant_id: EligibilityWrite) -> JSONResponse:
    """Check a registered coverage with its payer (270 out, 271 in) and answer with the normalized result."""
    check_id, cached = await check_now(_runtime(request), tenant_id, CheckRequest(
        check.coverage_id, check.service_date, check.service_types, check.provider_npi, check.provider_name,
        check.patient_id),
        use_cache=check.use_cache)
    stored = await _check(request, tenant_id, check_id, cached=cached)
    return JSONResponse(stored.model_dump(mode="json"), status_code=202 if stored.status == "pending" else 200,
                        headers={"Location": f"/v1/eligibility-checks/{check_id}"})


@router.get("/eligibility-checks/{check_id}", response_model=EligibilityCheckOut, responses=_NOT_FOUND)
@audited("read", "eligibility_check", resource_id="check_id", patient_id="patient_id")
async def get_eligibility_check(check_id: UUID, request: Request, tenant_id: EligibilityRead,
                                include_x12: bool = False) -> EligibilityCheckOut:
    """A check and its normalized answer; with `include_x12=true`, the 270 sent and the 271 received."""
    return await _check(request, tenant_id, check_id, include_x12=include_x12)


@router.get("/eligibility-checks", response_model=Page[EligibilityCheckOut])
@audited("list", "eligibility_check", patient_id="patient_id")
async def list_eligibility_checks(request: Request, tenant_id: EligibilityRead, patient_id: str | None = None,
                                  cursor: str | None = None,
                                  limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[EligibilityCheckOut]:
    """Oldest first, optionally for one patient (without the normalized answers: GET one for those)."""
    query = sa.select(*_LIST_COLUMNS).where(eligibility_checks.c.tenant_id == tenant_id)
    if patient_id:
        query = query.where(eligibility_checks.c.patient_id == patient_id)
    async with _runtime(request).engine.connect() as conn:
        rows, next_cursor = await fetch_page(
            conn, query, order_by=[eligibility_checks.c.requested_at, eligibility_checks.c.id], cursor=cursor,
            limit=limit)
    items = [EligibilityCheckOut(**row._mapping) for row in rows]
    return Page[EligibilityCheckOut](items=items, next_cursor=next_cursor)


@router.get("/coverages/{coverage_id}/eligibility", response_model=CoverageEligibilityOut,
            responses={404: {"description": "The coverage is not registered"},
                       422: {"description": "Several patients have a coverage of this id: give patient_id"}})
@audited("read", "coverage", resource_id="coverage_id", patient_id="patient_id")
async def get_coverage_eligibility(coverage_id: str, request: Request, tenant_id: EligibilityRead,
                                   patient_id: str | None = None,
                                   limit: Annotated[int, Query(ge=1, le=200)] = 50) -> CoverageEligibilityOut:
    """The coverage's latest answer in full and its checks, newest first (`patient_id` only when
    several patients have a coverage of this id)."""
    async with _runtime(request).engine.connect() as conn:
        coverage = await coverage_or_none(conn, tenant_id, coverage_id, patient_id)
        if coverage is None:
            raise coverage_not_found(coverage_id)
        rows = (await conn.execute(
            sa.select(*[eligibility_checks.c[name] for name in CheckSummaryOut.model_fields])
            .where(eligibility_checks.c.tenant_id == tenant_id, eligibility_checks.c.coverage_id == coverage_id,
                   eligibility_checks.c.patient_id == coverage.patient_id)
            .order_by(eligibility_checks.c.requested_at.desc(), eligibility_checks.c.id).limit(limit))).all()
    history = [CheckSummaryOut(**row._mapping) for row in rows]
    answered = next((check for check in history if check.status != "pending"), None)
    latest = await _check(request, tenant_id, answered.id) if answered else None
    return CoverageEligibilityOut(coverage_id=coverage_id, patient_id=coverage.patient_id, payer_id=coverage.payer_id,
                                  latest=latest, history=history)


_RESPONSES_DOC = {"requestBody": {"required": True, "content": {
    "application/edi-x12": {"schema": {"type": "string"}},
    "application/json": {"schema": schema_ref(EligibilityCheckIn)}}}}


@router.post("/eligibility-responses", status_code=201, openapi_extra=_RESPONSES_DOC,
             responses={200: {"model": UploadOut, "description": "A 271 file: one result per answer in it"},
                        201: {"model": EligibilityCheckOut, "description": "An answer recorded by hand"},
                        415: {"description": "Neither a 271 (application/edi-x12) nor JSON"},
                        422: {"description": "A malformed 271 (naming the segment), or invalid JSON fields"}})
@audited("create", "eligibility_check", resource_id="id", patient_id="patient_id")
@takes_files()
async def post_eligibility_responses(request: Request, tenant_id: EligibilityWrite,
                                     idempotency_key: Annotated[str | None, Header()] = None) -> Response:
    """Answers that did not come back in real time, by Content-Type:

    - `application/edi-x12`: a 271 file (a clearinghouse's batch answers). Each answer is matched to
      its check by trace number (TRN), else by member id and payer; one that matches nothing is stored
      and normalized all the same. 200 with each result's check id; 422 naming the segment of a
      malformed file (nothing stored).
    - `application/json`: an answer from a portal or a phone call; 201.
    """
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type in X12_MEDIA_TYPES:
        return await _receive_271(request, tenant_id)
    if content_type == "application/json":
        answer = await json_body(request, EligibilityCheckIn)
        return await idempotent_create(
            request, tenant_id=tenant_id, idempotency_key=idempotency_key,
            create=lambda conn: record_check(conn, tenant_id, answer),
            location=lambda stored: f"/v1/eligibility-checks/{stored.id}", response_model=EligibilityCheckOut)
    raise Problem(415, "Unsupported media type", "Send a 271 as application/edi-x12 or an answer as application/json.",
                  type_="unsupported-media-type",
                  errors=[field_error("/header/Content-Type", f"{content_type or 'missing'} is not accepted")])


async def _receive_271(request: Request, tenant_id: str) -> JSONResponse:
    body = await request.body()
    try:
        text = body.decode("utf-8")
        answers = list(parse_271(text))
    except UnicodeDecodeError:
        raise Problem(422, "Malformed 271", "The file is not UTF-8 (X12 basic or extended character set) text.",
                      type_="malformed-x12", errors=[field_error("", "not text")]) from None
    except X12Error as exc:
        pointer = f"/segments/{exc.segment_number}" if exc.segment_number else ""
        raise Problem(422, "Malformed 271", str(exc), type_="malformed-x12",
                      errors=[field_error(pointer, exc.reason)]) from None
    engine = _runtime(request).engine
    async with engine.begin() as conn:
        results, batch_ids = await apply_answers(conn, tenant_id, answers, text)
        for result in results:
            await record_change(conn, resource_id=result.check_id, patient_id=result.patient_id)
    for batch_id in batch_ids:
        await finish_batch_if_done(engine, batch_id, datetime.now(timezone.utc))
    _runtime(request).events_staged()
    return JSONResponse(UploadOut(results=results).model_dump(mode="json"), status_code=200)


@router.post("/eligibility-batches", status_code=201, response_model=EligibilityBatchOut,
             responses={422: {"description": "Invalid fields, or coverages not registered (each named)"}})
@audited("create", "eligibility_batch", resource_id="id")
async def post_eligibility_batch(batch: EligibilityBatchIn, request: Request, tenant_id: EligibilityWrite,
                                 idempotency_key: Annotated[str | None, Header()] = None) -> Response:
    """Queue one check per item; the worker asks the payers (each payer's concurrency limit kept)
    and `EligibilityBatchFinished` is published when the last one is done."""
    return await idempotent_create(
        request, tenant_id=tenant_id, idempotency_key=idempotency_key,
        create=lambda conn: create_batch(conn, tenant_id, batch),
        location=lambda stored: f"/v1/eligibility-batches/{stored.id}", response_model=EligibilityBatchOut)


@router.get("/eligibility-batches/{batch_id}", response_model=EligibilityBatchOut,
            responses={404: {"description": "No such batch in this practice"}})
@audited("read", "eligibility_batch", resource_id="batch_id")
async def get_eligibility_batch(batch_id: UUID, request: Request, tenant_id: EligibilityRead,
                                include_checks: bool = False) -> EligibilityBatchOut:
    """Progress: done, pending and failed checks (and their ids with `include_checks=true`)."""
    async with _runtime(request).engine.connect() as conn:
        view = await batch_view(conn, tenant_id, batch_id, with_checks=include_checks)
    if view is None:
        raise Problem(404, "Eligibility batch not found", type_="not-found")
    return view


@router.post("/estimates", response_model=EstimateOut,
             responses={200: {"content": {"application/pdf": {}},
                              "description": "The estimate; a self-pay good-faith estimate PDF with "
                                             "Accept: application/pdf"},
                        404: {"description": "The coverage is not registered"},
                        409: {"description": "The payer has not answered the eligibility check yet"},
                        422: {"description": "Invalid fields, a service that cannot be priced, coverage not active, "
                                             "or a good-faith estimate missing a required field"}})
@audited("create", "estimate", patient_id="patient_id")
async def post_estimate(estimate: EstimateRequest, request: Request, tenant_id: EligibilityWrite) -> Response:
    """The patient's expected responsibility, itemized and explained: from the payer's benefits (a
    standing eligibility answer, else a real-time check) and its contracted rates; without a
    coverage, a self-pay estimate at the practice's charges."""
    if estimate.coverage_id is None:
        if "application/pdf" in request.headers.get("accept", ""):
            return Response(good_faith_estimate(estimate), media_type="application/pdf",
                            headers={"Content-Disposition": 'attachment; filename="good-faith-estimate.pdf"'})
        result = self_pay_estimate(estimate)
    else:
        result = await insured_estimate(_runtime(request), tenant_id, estimate)
    return JSONResponse(result.model_dump(mode="json"))
