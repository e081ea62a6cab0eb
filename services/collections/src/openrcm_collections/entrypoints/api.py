"""The collections API: a patient's balance and ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from openrcm_collections.adapters.tables import ledger_entries
from openrcm_collections.service_layer.accounts import load_account
from openrcm_shared.audit import audited
from openrcm_shared.db import snapshot
from openrcm_shared.http.pagination import fetch_page
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


class AccountOut(BaseModel):
    patient_id: str
    balance: Money
    opened_at: datetime
    updated_at: datetime
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
    return AccountOut(patient_id=patient_id, balance=account.balance, opened_at=account.opened_at,
                      updated_at=account.updated_at, ledger=[LedgerEntryOut(**row._mapping) for row in rows],
                      next_cursor=next_cursor)
