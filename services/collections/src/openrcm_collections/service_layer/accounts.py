"""Patient responsibility from posted payments lands on the patient's account."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_collections.adapters.tables import ledger_entries, patient_accounts
from openrcm_collections.domain.responsibility import responsibility_kind
from openrcm_shared.contracts.collections import PatientBalanceChanged
from openrcm_shared.contracts.remittance import ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.money import ZERO


async def on_claim_payment_posted(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    """One ledger entry per PR adjustment (deductible, coinsurance, copay...), balance updated."""
    owed = [(a.carc, a.amount) for a in event.adjustments if a.group_code == "PR" and a.amount != ZERO]
    await _post_patient_entries(ctx, event, owed, "patient_responsibility")


async def on_claim_reversed(ctx: HandlerContext, event: ClaimReversed) -> None:
    """The payer took back its decision: the patient share it assigned comes off the account (the
    corrected decision that usually follows in the same ERA assigns the new share)."""
    taken_back = [(a.carc, -a.amount) for a in event.reversed_adjustments if a.group_code == "PR" and a.amount != ZERO]
    await _post_patient_entries(ctx, event, taken_back, "payer_reversal")


async def _post_patient_entries(ctx: HandlerContext, event, amounts: list[tuple[str, object]], kind: str) -> None:
    if not amounts:
        return
    now = datetime.now(timezone.utc)
    total = sum((amount for _, amount in amounts), ZERO)
    # Upsert and lock the account row in one statement; concurrent postings serialise here.
    balance = (await ctx.conn.execute(
        pg_insert(patient_accounts)
        .values(tenant_id=event.tenant_id, patient_id=event.patient_id, balance=total, opened_at=now, updated_at=now)
        .on_conflict_do_update(index_elements=["tenant_id", "patient_id"],
                               set_={"balance": patient_accounts.c.balance + total, "updated_at": now})
        .returning(patient_accounts.c.balance))).scalar_one()
    running = balance - total
    rows = []
    for carc, amount in amounts:
        running += amount
        rows.append(dict(
            tenant_id=event.tenant_id, patient_id=event.patient_id, claim_id=event.claim_id,
            remittance_id=event.remittance_id, entry_kind=kind,
            responsibility_kind=responsibility_kind(carc), carc=carc, amount=amount,
            balance_after=running, source_event_id=ctx.envelope.id, posted_at=now))
    await ctx.conn.execute(ledger_entries.insert(), rows)
    await ctx.emit(PatientBalanceChanged(tenant_id=event.tenant_id, patient_id=event.patient_id,
                                         claim_id=event.claim_id, entry_kind=kind, amount=total, balance=balance))


async def load_account(conn, tenant_id: str, patient_id: str):
    account = (await conn.execute(sa.select(patient_accounts).where(
        patient_accounts.c.tenant_id == tenant_id, patient_accounts.c.patient_id == patient_id))).first()
    return account
