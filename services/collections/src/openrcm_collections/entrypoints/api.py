"""The collections API: a patient's balance and ledger."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from openrcm_collections.adapters.tables import ledger_entries, patient_accounts, payer_credit_balances
from openrcm_collections.entrypoints.schemas import AccountHoldIn, GuarantorIn
from openrcm_collections.service_layer.accounts import insurance_pending, load_account
from openrcm_collections.service_layer.ledger import lock_account
from openrcm_shared.audit import audited
from openrcm_shared.audit.recording import record_change
from openrcm_shared.db import snapshot
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.openapi_docs import problem_responses
from openrcm_shared.http.problems import Problem
from openrcm_shared.money import Money
from openrcm_shared.security.practice import CollectionsWork

router = APIRouter(prefix="/v1", tags=["collections"])


class LedgerEntryOut(BaseModel):
    id: int
    claim_id: UUID | None
    remittance_id: UUID | None
    entry_kind: str
    responsibility_kind: str | None
    carc: str | None
    amount: Money
    balance_after: Money
    posted_at: datetime
    line_number: int | None
    payer_id: str | None


class AccountOut(BaseModel):
    patient_id: str
    balance: Money
    opened_at: datetime
    updated_at: datetime
    guarantor: dict | None = None
    hold_reason: str | None = None
    dunning_stage: str | None = None
    # Claims of the account's bills that a payer has yet to decide (a secondary billed, no answer yet):
    # what the patient owes on those bills may still change, and no first statement goes out.
    insurance_pending: list[UUID] = []
    ledger: list[LedgerEntryOut]
    next_cursor: str | None = None


_LEDGER_COLUMNS = [ledger_entries.c[name] for name in LedgerEntryOut.model_fields]


@router.get("/accounts/{patient_id}", response_model=AccountOut, responses=problem_responses(404))
@audited("read", "account", resource_id="patient_id", patient_id="patient_id")
async def get_account(patient_id: str, request: Request, tenant_id: CollectionsWork, cursor: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AccountOut:
    """The patient's balance and ledger lines, newest first (one snapshot: the balance and the lines agree)."""
    async with snapshot(request.app.state.runtime.engine) as conn:
        account = await load_account(conn, tenant_id, patient_id)
        if account is None:
            raise Problem(404, "No account for this patient", type_="not-found")
        query = sa.select(*_LEDGER_COLUMNS).where(ledger_entries.c.tenant_id == tenant_id,
                                                  ledger_entries.c.patient_id == patient_id)
        rows, next_cursor = await fetch_page(conn, query, order_by=[ledger_entries.c.id], cursor=cursor, limit=limit)
        pending = await insurance_pending(conn, tenant_id, patient_id)
    return AccountOut(insurance_pending=pending, patient_id=patient_id, balance=account.balance, opened_at=account.opened_at,
                      updated_at=account.updated_at, guarantor=account.guarantor, hold_reason=account.hold_reason,
                      dunning_stage=account.dunning_stage, ledger=[LedgerEntryOut(**row._mapping) for row in rows],
                      next_cursor=next_cursor)


class AccountSettingsOut(BaseModel):
    patient_id: str
    guarantor: dict | None
    hold_reason: str | None


@router.put("/accounts/{patient_id}/guarantor", response_model=AccountSettingsOut)
@audited("update", "account", resource_id="patient_id", patient_id="patient_id")
async def put_guarantor(patient_id: str, body: GuarantorIn, request: Request, tenant_id: CollectionsWork) -> AccountSettingsOut:
    """Who is responsible for the account and receives its statements (the patient, or e.g. a parent)."""
    return await _set_account(request, tenant_id, patient_id, guarantor=body.model_dump(mode="json"))


@router.put("/accounts/{patient_id}/hold", response_model=AccountSettingsOut)
@audited("update", "account", resource_id="patient_id", patient_id="patient_id")
async def put_hold(patient_id: str, body: AccountHoldIn, request: Request, tenant_id: CollectionsWork) -> AccountSettingsOut:
    """Suppress dunning (a dispute, bankruptcy, the patient deceased, hardship), or lift it (`reason: null`)."""
    return await _set_account(request, tenant_id, patient_id, hold_reason=body.reason)


async def _set_account(request: Request, tenant_id: str, patient_id: str, **values) -> AccountSettingsOut:
    now = datetime.now(timezone.utc)
    async with request.app.state.runtime.engine.begin() as conn:
        await lock_account(conn, tenant_id, patient_id, now)
        row = (await conn.execute(sa.update(patient_accounts).where(
            patient_accounts.c.tenant_id == tenant_id, patient_accounts.c.patient_id == patient_id)
            .values(updated_at=now, **values)
            .returning(patient_accounts.c.guarantor, patient_accounts.c.hold_reason))).one()
        out = AccountSettingsOut(patient_id=patient_id, guarantor=row.guarantor, hold_reason=row.hold_reason)
        await record_change(conn, resource=out)
    return out


class CreditBalanceOut(BaseModel):
    """Money held beyond what is owed: a payer's overpayment on a bill (its primary claim), or a
    patient's account in credit. Both are refunded or applied; none is kept silently."""

    holder: Literal["payer", "patient"]
    patient_id: str
    payer_id: str | None
    primary_claim_id: UUID | None
    amount: Money
    updated_at: datetime


def _credit_balances(tenant_id: str):
    payers = sa.select(
        sa.literal("payer").label("holder"), payer_credit_balances.c.patient_id, payer_credit_balances.c.payer_id,
        payer_credit_balances.c.primary_claim_id, payer_credit_balances.c.amount, payer_credit_balances.c.updated_at,
    ).where(payer_credit_balances.c.tenant_id == tenant_id, payer_credit_balances.c.amount > 0)
    patients = sa.select(
        sa.literal("patient").label("holder"), patient_accounts.c.patient_id, sa.null().label("payer_id"),
        sa.null().label("primary_claim_id"), (-patient_accounts.c.balance).label("amount"),
        patient_accounts.c.updated_at,
    ).where(patient_accounts.c.tenant_id == tenant_id, patient_accounts.c.balance < 0)
    both = sa.union_all(payers, patients).subquery("credit_balances")
    # A unique sort key for the cursor: who holds it, for which account, bill and payer.
    key = sa.func.concat_ws(":", both.c.holder, both.c.patient_id, both.c.primary_claim_id,
                            both.c.payer_id).label("credit_key")
    return both, key


@router.get("/credit-balances", response_model=Page[CreditBalanceOut])
@audited("list", "credit_balance")
async def credit_balance_worklist(request: Request, tenant_id: CollectionsWork,
                                  holder: Literal["payer", "patient"] | None = None, cursor: str | None = None,
                                  limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[CreditBalanceOut]:
    """Open credit balances to refund or apply: payers' overpayments and patients' accounts in credit."""
    both, key = _credit_balances(tenant_id)
    query = sa.select(both, key)
    if holder:
        query = query.where(both.c.holder == holder)
    async with snapshot(request.app.state.runtime.engine) as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[key], cursor=cursor, limit=limit)
    return Page[CreditBalanceOut](items=[CreditBalanceOut(**{name: row._mapping[name] for name in
                                                             CreditBalanceOut.model_fields}) for row in rows],
                                  next_cursor=next_cursor)
