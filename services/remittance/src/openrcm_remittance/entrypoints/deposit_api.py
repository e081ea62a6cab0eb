"""Deposits (payer EFTs as the bank reports them) and their reassociation with ERAs."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from openrcm_remittance.adapters.tables import deposits
from openrcm_remittance.domain.reassociation import DepositFacts, Discrepancy, EraPayment, normalize_trace
from openrcm_remittance.service_layer.deposits import (
    deposit_discrepancies, era_discrepancies, record_deposit, unreassociated_remittances,
)
from openrcm_shared.audit import audited
from openrcm_shared.db import snapshot
from openrcm_shared.http.idempotency import idempotent_create
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.openapi_docs import BODY_PROBLEMS, problem_doc, problem_responses
from openrcm_shared.http.problems import Problem
from openrcm_shared.money import Money, PositiveMoney
from openrcm_shared.security.practice import RemittanceRead, RemittanceWrite

router = APIRouter(prefix="/v1", tags=["deposits and reassociation"])


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # The CCD+ addenda's TRN02: the ERA's trace number (TRN02 is AN 1/50 in 005010X221A1).
    trace_number: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    amount: PositiveMoney  # the CCD+ amount = the ERA's BPR02
    deposit_date: date  # the CCD+ effective entry date = the ERA's BPR16
    payer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,15}$")] | None = None
    # The payer's TIN: nine digits, or the CCD+ company id / TRN03 form ("1" + the TIN).
    payer_tin: str | None = None
    bank_reference: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = None

    @field_validator("payer_tin")
    @classmethod
    def _tin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = value.replace("-", "")
        if re.fullmatch(r"1[0-9]{9}", digits):
            digits = digits[1:]
        if not re.fullmatch(r"[0-9]{9}", digits):
            raise ValueError("a TIN of nine digits (or \"1\" followed by them, as in TRN03)")
        return digits


class ReassociationExceptionOut(BaseModel):
    """A deposit and an ERA with the same trace number that were not tied, and why."""

    deposit_id: UUID
    remittance_id: UUID
    reason: Literal["amount_mismatch", "date_outside_tolerance", "ambiguous"]
    amount_difference: Money  # deposit amount - ERA payment amount
    business_days_apart: int

    @classmethod
    def of(cls, discrepancy: Discrepancy) -> "ReassociationExceptionOut":
        return cls(deposit_id=discrepancy.deposit_id, remittance_id=discrepancy.remittance_id,
                   reason=discrepancy.reason, amount_difference=discrepancy.amount_difference,
                   business_days_apart=discrepancy.business_days_apart)


class DepositOut(BaseModel):
    id: UUID
    trace_number: str
    amount: Money
    deposit_date: date
    payer_id: str | None
    payer_tin: str | None
    bank_reference: str | None
    status: Literal["matched", "unmatched"]
    remittance_id: UUID | None
    received_at: datetime
    matched_at: datetime | None
    exceptions: list[ReassociationExceptionOut] = []


class UnreassociatedRemittanceOut(BaseModel):
    id: UUID
    payer_id: str
    trace_number: str
    payment_amount: Money
    payment_date: date
    received_at: datetime
    exceptions: list[ReassociationExceptionOut] = []


_DEPOSIT_COLUMNS = [deposits.c[name] for name in DepositOut.model_fields if name != "exceptions"]


def _out(row, discrepancies=()) -> DepositOut:
    return DepositOut(**{c.name: row[c.name] for c in _DEPOSIT_COLUMNS},
                      exceptions=[ReassociationExceptionOut.of(d) for d in discrepancies])


@router.post("/deposits", status_code=201, response_model=DepositOut,
             responses={**BODY_PROBLEMS, 409: problem_doc(409, "This EFT (trace number and amount) was already "
                                                                   "recorded, or the same Idempotency-Key is in flight")})
@audited("create", "deposit", resource_id="id")
async def post_deposit(deposit: DepositIn, request: Request, tenant_id: RemittanceWrite,
                       idempotency_key: Annotated[str | None, Header()] = None) -> Response:
    """Record a payer's EFT and reassociate it with its ERA at once if the ERA is here (CAQH CORE 370):
    same trace number (TRN02), same amount (BPR02), the same payer when both say, and the deposit date
    within three business days of BPR16. The same trace with another amount is listed under `exceptions`
    with the difference, never matched. Publishes DepositRecorded, and RemittanceReassociated on a match.
    """
    facts = DepositFacts(uuid4(), normalize_trace(deposit.trace_number), deposit.amount, deposit.deposit_date,
                         deposit.payer_id, deposit.payer_tin)

    async def create(conn) -> DepositOut:
        row, discrepancies = await record_deposit(conn, tenant_id, facts, bank_reference=deposit.bank_reference)
        return _out(row, discrepancies)

    return await idempotent_create(request, tenant_id=tenant_id, idempotency_key=idempotency_key, create=create,
                                   location=lambda stored: f"/v1/deposits/{stored.id}", response_model=DepositOut)


async def _with_exceptions(conn, tenant_id: str, rows) -> list[DepositOut]:
    unmatched = [DepositFacts(r.id, r.trace_number, r.amount, r.deposit_date, r.payer_id, r.payer_tin)
                 for r in rows if r.status == "unmatched"]
    found = await deposit_discrepancies(conn, tenant_id, unmatched)
    return [_out(row._mapping, found.get(row.id, ())) for row in rows]


@router.get("/deposits", response_model=Page[DepositOut])
async def list_deposits(request: Request, tenant_id: RemittanceRead, status: Literal["matched", "unmatched"] | None = None,
                        cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[DepositOut]:
    """Deposits, newest first; unmatched ones list the ERAs of the same trace number they did not fit."""
    query = sa.select(*_DEPOSIT_COLUMNS).where(deposits.c.tenant_id == tenant_id)
    if status:
        query = query.where(deposits.c.status == status)
    async with snapshot(request.app.state.runtime.engine) as conn:  # deposits and their exceptions agree
        rows, next_cursor = await fetch_page(conn, query, order_by=[deposits.c.received_at, deposits.c.id],
                                             cursor=cursor, limit=limit)
        items = await _with_exceptions(conn, tenant_id, rows)
    return Page[DepositOut](items=items, next_cursor=next_cursor)


@router.get("/deposits/{deposit_id}", response_model=DepositOut, responses=problem_responses(404))
async def get_deposit(deposit_id: UUID, request: Request, tenant_id: RemittanceRead) -> DepositOut:
    async with snapshot(request.app.state.runtime.engine) as conn:
        row = (await conn.execute(sa.select(*_DEPOSIT_COLUMNS).where(
            deposits.c.tenant_id == tenant_id, deposits.c.id == deposit_id))).first()
        if row is None:
            raise Problem(404, "Deposit not found", type_="not-found")
        [out] = await _with_exceptions(conn, tenant_id, [row])
    return out


@router.get("/remittances/unreassociated", response_model=Page[UnreassociatedRemittanceOut])
async def list_unreassociated(request: Request, tenant_id: RemittanceRead, cursor: str | None = None,
                              limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[UnreassociatedRemittanceOut]:
    """ERAs that moved money (BPR02 > 0) and have no deposit yet, oldest payment date first, each with the
    waiting deposits of its trace number that did not fit."""
    async with snapshot(request.app.state.runtime.engine) as conn:
        rows, next_cursor = await unreassociated_remittances(conn, tenant_id, cursor=cursor, limit=limit)
        found = await era_discrepancies(conn, tenant_id, [
            EraPayment(r.id, r.payer_id, r.trace_number, r.payment_amount, r.payment_date, r.originating_company_id)
            for r in rows])
    return Page[UnreassociatedRemittanceOut](items=[UnreassociatedRemittanceOut(
        id=r.id, payer_id=r.payer_id, trace_number=r.trace_number, payment_amount=r.payment_amount,
        payment_date=r.payment_date, received_at=r.received_at,
        exceptions=[ReassociationExceptionOut.of(d) for d in found.get(r.id, ())]) for r in rows],
        next_cursor=next_cursor)
