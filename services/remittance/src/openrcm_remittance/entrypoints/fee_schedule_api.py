"""Contracted fee schedules (CSV upload, versions, one amount) and the payment variances found in posting."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, PlainSerializer

from openrcm_remittance.adapters.tables import (
    fee_schedule_entries, fee_schedule_versions, fee_schedules, payment_variances,
)
from openrcm_remittance.domain.fee_schedules import (
    FeeScheduleInvalid, LineKey, contracted_amount, parse_fee_schedule_csv,
)
from openrcm_remittance.service_layer.fee_schedules import load_contracted_rates, replace_fee_schedule
from openrcm_shared.audit import audited, record_change
from openrcm_shared.codes import MODIFIER, PROCEDURE_CODE
from openrcm_shared.http.bounds import PositiveInt4
from openrcm_shared.http.inbound import takes_files
from openrcm_shared.http.pagination import Page, decode_cursor, encode_cursor, fetch_page, invalid_cursor
from openrcm_shared.http.openapi_docs import problem_doc, problem_responses
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.money import ZERO, Money
from openrcm_shared.security.practice import ReferenceAdmin, RemittanceRead

router = APIRouter(prefix="/v1", tags=["fee schedules and variances"])

PayerIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,15}$")]
# A schedule of every CPT/HCPCS code with a few modifiers and date spans stays well under this
# (the inbound guard refuses a larger body with 413 before it is read past the bound).
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
CSV_EXAMPLE = ("procedure_code,modifier,allowed_amount,effective_from,effective_to\n"
               "99213,,92.50,2026-01-01,\n99213,25,92.50,2026-01-01,2026-06-30\n93000,26,8.75,2026-01-01,\n")


def _rate_text(rate: Decimal) -> str:
    """A per-unit rate as a string: two decimal places at least, more only when the rate has them."""
    normalized = rate.normalize()
    return str(rate.quantize(Decimal("0.01")) if normalized.as_tuple().exponent >= -2 else normalized)


Rate = Annotated[Decimal, PlainSerializer(_rate_text, return_type=str, when_used="json")]


class FeeScheduleVersionOut(BaseModel):
    payer_id: str
    version: int
    row_count: int
    variance_tolerance: Money
    content_sha256: str
    uploaded_at: datetime


class FeeScheduleRowOut(BaseModel):
    procedure_code: str
    modifier: str | None
    allowed_amount: Rate  # per unit
    effective_from: date
    effective_to: date | None
    line_number: int


class FeeScheduleOut(FeeScheduleVersionOut):
    versions: list[int]  # every version uploaded, newest first; ?version= shows an earlier one
    rows: list[FeeScheduleRowOut]


class ContractedAmountOut(BaseModel):
    payer_id: str
    version: int
    procedure_code: str
    modifiers: list[str]
    service_date: date
    units: Decimal
    matched_modifier: str | None  # the schedule row's modifier (None: the procedure's unmodified rate)
    allowed_amount: Rate  # per unit
    contracted_amount: Money  # allowed_amount x units, to the cent
    effective_from: date
    effective_to: date | None


class PaymentVarianceOut(BaseModel):
    id: UUID
    remittance_id: UUID
    claim_id: UUID
    payer_id: str
    line_number: int
    procedure_code: str
    modifiers: list[str]
    service_date: date
    units: Decimal
    contracted_amount: Money
    allowed_amount: Money
    paid_amount: Money
    variance_amount: Money  # contracted - allowed: positive is an underpayment
    kind: Literal["underpayment", "overpayment"]
    beyond_tolerance: bool
    detected_at: datetime


# -- upload -----------------------------------------------------------------------------------------------


def _require_csv(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "text/csv":
        raise Problem(415, "Unsupported media type", "Send the schedule as Content-Type: text/csv.",
                      type_="unsupported-media-type", errors=[field_error("/header/Content-Type", "must be text/csv")])


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")  # spreadsheet exports often start with a byte-order mark
    except UnicodeDecodeError as exc:
        raise Problem(422, "The fee schedule is not UTF-8 text", "Nothing was stored.", type_="invalid-fee-schedule",
                      errors=[field_error("", f"byte {exc.start} is not UTF-8")]) from None


def _invalid(exc: FeeScheduleInvalid) -> Problem:
    shown = "" if exc.total <= len(exc.errors) else f" (the first {len(exc.errors)} are listed)"
    return Problem(422, "The fee schedule has errors", f"{exc.total} error(s){shown}; nothing was stored.",
                   type_="invalid-fee-schedule", error_count=exc.total,
                   errors=[{"pointer": e.pointer, "detail": e.detail, "line": e.line, "column": e.column}
                           for e in exc.errors])


@router.put("/fee-schedules/{payer_id}", response_model=FeeScheduleVersionOut,
            openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {
                "schema": {"type": "string"}, "example": CSV_EXAMPLE}}}},
            responses={413: problem_doc(413, "Larger than 16 MiB"), 415: problem_doc(415, "Not text/csv"),
                       422: problem_doc(422, "Errors naming each row and column (/rows/<index>/<column>, with the "
                                             "CSV line); nothing stored")})
@audited("replace", "fee_schedule", resource_id="payer_id")
@takes_files(max_bytes=MAX_UPLOAD_BYTES)
async def put_fee_schedule(payer_id: PayerIdPath, request: Request, tenant_id: ReferenceAdmin,
                           variance_tolerance: Annotated[Decimal, Query(ge=0, max_digits=12, decimal_places=2)] = ZERO
                           ) -> FeeScheduleVersionOut:
    """Replace the payer's contracted fee schedule with this CSV, as a new version (earlier ones are kept).

    Columns: procedure_code, modifier (may be empty), allowed_amount (per unit, up to 4 decimal places),
    effective_from, effective_to (YYYY-MM-DD, both inclusive; effective_to may be empty). Rows for the same
    procedure and modifier may not overlap in time. `variance_tolerance`: underpayments of a line up to this
    amount are recorded without a PaymentVarianceDetected event.
    """
    _require_csv(request)
    body = await request.body()
    try:
        rows = parse_fee_schedule_csv(_decode(body))
    except FeeScheduleInvalid as exc:
        raise _invalid(exc) from None
    async with request.app.state.runtime.engine.begin() as conn:
        stored = await replace_fee_schedule(conn, tenant_id, payer_id, rows, content=body,
                                            variance_tolerance=variance_tolerance)
        await record_change(conn)
    return FeeScheduleVersionOut(payer_id=payer_id, version=stored.version, row_count=stored.row_count,
                                 variance_tolerance=stored.variance_tolerance, content_sha256=stored.content_sha256,
                                 uploaded_at=stored.uploaded_at)


# -- reading ------------------------------------------------------------------------------------------------


_VERSION_COLUMNS = [fee_schedule_versions.c[name] for name in FeeScheduleVersionOut.model_fields]
_ROW_COLUMNS = [fee_schedule_entries.c[name] for name in FeeScheduleRowOut.model_fields]


async def _version_row(conn, tenant_id: str, payer_id: str, version: int | None):
    query = sa.select(fee_schedule_versions.c.id, *_VERSION_COLUMNS).where(
        fee_schedule_versions.c.tenant_id == tenant_id, fee_schedule_versions.c.payer_id == payer_id)
    if version is None:
        query = query.join(fee_schedules, fee_schedules.c.current_version_id == fee_schedule_versions.c.id)
    else:
        query = query.where(fee_schedule_versions.c.version == version)
    return (await conn.execute(query)).first()


@router.get("/fee-schedules/{payer_id}", response_model=FeeScheduleOut, responses=problem_responses(404))
async def get_fee_schedule(payer_id: str, request: Request, tenant_id: RemittanceRead,
                           version: Annotated[PositiveInt4 | None, Query()] = None) -> FeeScheduleOut:
    """The payer's schedule in force (or an earlier `version`) with its rows."""
    async with request.app.state.runtime.engine.connect() as conn:
        header = await _version_row(conn, tenant_id, payer_id, version)
        if header is None:
            raise Problem(404, "Fee schedule not found", type_="not-found")
        versions = (await conn.execute(sa.select(fee_schedule_versions.c.version).where(
            fee_schedule_versions.c.tenant_id == tenant_id, fee_schedule_versions.c.payer_id == payer_id)
            .order_by(fee_schedule_versions.c.version.desc()))).scalars().all()
        rows = (await conn.execute(sa.select(*_ROW_COLUMNS).where(fee_schedule_entries.c.version_id == header.id)
                                   .order_by(fee_schedule_entries.c.procedure_code,
                                             fee_schedule_entries.c.modifier.nulls_first(),
                                             fee_schedule_entries.c.effective_from))).all()
    return FeeScheduleOut(**{name: header._mapping[name] for name in FeeScheduleVersionOut.model_fields},
                          versions=list(versions), rows=[FeeScheduleRowOut(**row._mapping) for row in rows])


def _code_query(value: str, pattern, pointer: str, example: str) -> str:
    code = value.strip().upper()
    if not pattern.match(code):
        raise Problem(422, "The request has invalid fields", type_="validation-error",
                      errors=[field_error(pointer, f"must be {example}")])
    return code


@router.get("/fee-schedules/{payer_id}/amount", response_model=ContractedAmountOut,
            responses={404: problem_doc(404, "No schedule for the payer, or no row applies on the date")})
async def get_contracted_amount(
        payer_id: str, request: Request, tenant_id: RemittanceRead, procedure_code: str, service_date: date,
        modifier: Annotated[list[str], Query(max_length=4)] = [],  # noqa: B006 - FastAPI copies the default
        units: Annotated[Decimal, Query(gt=0, max_digits=9, decimal_places=3)] = Decimal(1)) -> ContractedAmountOut:
    """What the contract allows for a procedure on a date of service: exact procedure + modifier first
    (the modifiers in the order given), else the procedure's unmodified rate; per unit, times `units`."""
    code = _code_query(procedure_code, PROCEDURE_CODE, "/query/procedure_code", "a CPT or HCPCS code such as 99213")
    modifiers = tuple(_code_query(m, MODIFIER, f"/query/modifier/{i}", "two letters or digits such as 26")
                      for i, m in enumerate(modifier) if m.strip())
    line = LineKey(code, modifiers, service_date, units)
    async with request.app.state.runtime.engine.connect() as conn:
        rates = await load_contracted_rates(conn, tenant_id, payer_id, [line])
        rate = rates.rate_for(code, modifiers, service_date)
        if rate is None:
            has_schedule = await _version_row(conn, tenant_id, payer_id, None) is not None
            raise Problem(404, "No contracted rate applies" if has_schedule else "Fee schedule not found",
                          type_="not-found")
    return ContractedAmountOut(
        payer_id=payer_id, version=rates.version, procedure_code=code, modifiers=list(modifiers),
        service_date=service_date, units=units, matched_modifier=rate.modifier, allowed_amount=rate.allowed_amount,
        contracted_amount=contracted_amount(rate, units), effective_from=rate.effective_from,
        effective_to=rate.effective_to)


# -- variances ----------------------------------------------------------------------------------------------


_VARIANCE_COLUMNS = [payment_variances.c[name] for name in PaymentVarianceOut.model_fields]
VarianceSort = Literal["recent", "largest_underpayment"]
_SORT_KEYS = {"recent": [payment_variances.c.detected_at, payment_variances.c.id],
              "largest_underpayment": [payment_variances.c.variance_amount, payment_variances.c.id]}


def _page_cursor(cursor: str | None, sort: VarianceSort) -> str | None:
    """Our cursors carry the sort they were made for, so one can never be read against another key
    (the key inside is checked against the sort's columns by fetch_page)."""
    if cursor is None:
        return None
    issued_for, inner = decode_cursor(cursor, 2)
    if issued_for != sort:
        raise invalid_cursor(f"issued for sort={issued_for}")
    return inner  # fetch_page reads its values as the sort columns' types


@router.get("/remittances/variances", response_model=Page[PaymentVarianceOut])
async def list_variances(
        request: Request, tenant_id: RemittanceRead, payer_id: str | None = None, claim_id: UUID | None = None,
        service_date_from: Annotated[date | None, Query(alias="from")] = None,
        service_date_to: Annotated[date | None, Query(alias="to")] = None,
        kind: Literal["underpayment", "overpayment"] | None = None, sort: VarianceSort = "recent",
        cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[PaymentVarianceOut]:
    """Lines paid off contract. `from`/`to` bound the date of service (inclusive); `sort=largest_underpayment`
    puts the biggest shortfall first (overpayments, being negative, come last)."""
    if service_date_from and service_date_to and service_date_to < service_date_from:
        raise Problem(422, "The request has invalid fields", type_="validation-error",
                      errors=[field_error("/query/to", "before from")])
    query = sa.select(*_VARIANCE_COLUMNS).where(payment_variances.c.tenant_id == tenant_id)
    for column, value in ((payment_variances.c.payer_id, payer_id), (payment_variances.c.claim_id, claim_id),
                          (payment_variances.c.kind, kind)):
        if value is not None:
            query = query.where(column == value)
    if service_date_from:
        query = query.where(payment_variances.c.service_date >= service_date_from)
    if service_date_to:
        query = query.where(payment_variances.c.service_date <= service_date_to)
    async with request.app.state.runtime.engine.connect() as conn:
        rows, inner_next = await fetch_page(conn, query, order_by=_SORT_KEYS[sort],
                                            cursor=_page_cursor(cursor, sort), limit=limit)
    return Page[PaymentVarianceOut](items=[PaymentVarianceOut(**row._mapping) for row in rows],
                                    next_cursor=encode_cursor(sort, inner_next) if inner_next else None)
