"""Posting movements on a patient's account: append-only ledger entries and the running balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_collections.adapters.tables import ledger_entries, patient_accounts
from openrcm_collections.domain.responsibility import responsibility_kind
from openrcm_shared.money import ZERO


@dataclass(frozen=True)
class EntryDraft:
    """One movement to post: what kind, how much (positive: the patient owes more), and what it is about."""

    entry_kind: str
    amount: Decimal
    claim_id: UUID | None = None
    line_number: int | None = None
    carc: str | None = None
    payer_id: str | None = None
    remittance_id: UUID | None = None
    movement_id: UUID | None = None  # the payment, refund or adjustment the entry belongs to
    share_kind: str | None = None  # the kind of patient share when no CARC says it (a denial moved to the patient)

    @property
    def responsibility_kind(self) -> str | None:
        return responsibility_kind(self.carc) if self.carc else self.share_kind


async def post_to_account(conn, tenant_id: str, patient_id: str, drafts: list[EntryDraft], *,
                          source_event_id: UUID, posted_at: datetime) -> Decimal:
    """Append the entries (each with the balance after it) and move the account's balance; returns
    the new balance. The account row is upserted and locked in one statement, so concurrent postings
    on one account serialise here and the running balances agree."""
    total = sum((draft.amount for draft in drafts), ZERO)
    balance = (await conn.execute(
        pg_insert(patient_accounts)
        .values(tenant_id=tenant_id, patient_id=patient_id, balance=total, opened_at=posted_at, updated_at=posted_at)
        .on_conflict_do_update(index_elements=["tenant_id", "patient_id"],
                               set_={"balance": patient_accounts.c.balance + total, "updated_at": posted_at})
        .returning(patient_accounts.c.balance))).scalar_one()
    if not drafts:
        return balance
    running = balance - total
    rows = []
    for draft in drafts:
        running += draft.amount
        rows.append(dict(
            tenant_id=tenant_id, patient_id=patient_id, claim_id=draft.claim_id, remittance_id=draft.remittance_id,
            entry_kind=draft.entry_kind, responsibility_kind=draft.responsibility_kind, carc=draft.carc,
            amount=draft.amount, balance_after=running, source_event_id=source_event_id, posted_at=posted_at,
            line_number=draft.line_number, payer_id=draft.payer_id, movement_id=draft.movement_id))
    await conn.execute(ledger_entries.insert(), rows)
    return balance


async def lock_account(conn, tenant_id: str, patient_id: str, now: datetime) -> Decimal:
    """Open the account if needed and lock it for this transaction (returns its balance): whoever
    reads the account's entries to decide a posting holds this lock until it commits."""
    await conn.execute(pg_insert(patient_accounts).values(
        tenant_id=tenant_id, patient_id=patient_id, balance=ZERO, opened_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["tenant_id", "patient_id"]))
    return (await conn.execute(sa.select(patient_accounts.c.balance).where(
        patient_accounts.c.tenant_id == tenant_id, patient_accounts.c.patient_id == patient_id)
        .with_for_update())).scalar_one()
