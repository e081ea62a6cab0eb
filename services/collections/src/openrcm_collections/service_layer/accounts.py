"""Patient responsibility from posted payments lands on the patient's account."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_collections.adapters.tables import ledger_entries, patient_accounts
from openrcm_collections.domain.responsibility import responsibility_kind
from openrcm_shared.contracts.collections import PatientBalanceChanged
from openrcm_shared.contracts.remittance import ClaimPaymentPosted
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.money import ZERO


async def on_claim_payment_posted(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    """One ledger entry per PR adjustment (deductible, coinsurance, copay...), balance updated."""
    owed = [a for a in event.adjustments if a.group_code == "PR" and a.amount != ZERO]
    if not owed:
        return
    now = datetime.now(timezone.utc)
    total = sum((a.amount for a in owed), ZERO)
    # Upsert and lock the account row in one statement; concurrent postings serialise here.
    balance = (await ctx.conn.execute(
        pg_insert(patient_accounts)
        .values(tenant_id=event.tenant_id, patient_id=event.patient_id, balance=total, opened_at=now, updated_at=now)
        .on_conflict_do_update(index_elements=["tenant_id", "patient_id"],
                               set_={"balance": patient_accounts.c.balance + total, "updated_at": now})
        .returning(patient_accounts.c.balance))).scalar_one()
    running = balance - total
    rows = []
    for adjustment in owed:
        running += adjustment.amount
        rows.append(dict(
            tenant_id=event.tenant_id, patient_id=event.patient_id, claim_id=event.claim_id,
            remittance_id=event.remittance_id, entry_kind="patient_responsibility",
            responsibility_kind=responsibility_kind(adjustment.carc), carc=adjustment.carc, amount=adjustment.amount,
            balance_after=running, source_event_id=ctx.envelope.id, posted_at=now))
    await ctx.conn.execute(ledger_entries.insert(), rows)
    await ctx.emit(PatientBalanceChanged(tenant_id=event.tenant_id, patient_id=event.patient_id,
                                         claim_id=event.claim_id, entry_kind="patient_responsibility",
                                         amount=total, balance=balance))


async def load_account(conn, tenant_id: str, patient_id: str):
    account = (await conn.execute(sa.select(patient_accounts).where(
        patient_accounts.c.tenant_id == tenant_id, patient_accounts.c.patient_id == patient_id))).first()
    return account
