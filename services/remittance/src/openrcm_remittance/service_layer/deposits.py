"""Deposits and EFT reassociation: each payer EFT tied to its ERA, whichever arrives first.

The interface for payment posting, called inside the transaction that inserted the ERA's row in
`remittances` (READ COMMITTED, the default):

    events = await reassociate_remittance(conn, tenant_id, remittance_id, originating_company_id=trn03)
    # the caller stages `events` (RemittanceReassociated, keyed by remittance id) with its other events

`reassociate_remittance(conn, tenant_id, remittance_id, *, originating_company_id: str | None = None)
-> list[IntegrationEvent]` looks for the unmatched deposit with the ERA's trace number, amount and
payer, and ties the two when exactly one fits (rules in domain/reassociation.py). It stages nothing
itself. Pass the 835's TRN03 when there is one: it is kept, so a deposit naming the payer's TIN that
arrives later is checked against it. Call it once the ERA's row is written, held or posted (the money
at the bank is the same either way); a remittance id not in the practice raises LookupError. Calling it
again for the same ERA changes nothing. Its cost: a few indexed statements per ERA, none per claim.

Deposit first or ERA first, concurrently or not, they meet: both sides take a transaction-scoped
advisory lock on (practice, trace number) before looking for each other, so the second to take it
waits for the first to commit and then sees its row (READ COMMITTED takes a fresh snapshot per
statement). The lock uses PostgreSQL's two-key form, a key space apart from the outbox relay's one-key
lock. A file with several ERAs takes one lock per ERA: call it for them in a stable order (the file's).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_remittance.adapters.tables import deposits, remittance_originators, remittances
from openrcm_remittance.domain.reassociation import (
    DepositFacts, Discrepancy, EraPayment, moves_money, normalize_trace, reassociate,
)
from openrcm_remittance.service_layer import SOURCE
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.contracts.remittance import DepositRecorded, RemittanceReassociated
from openrcm_shared.http.pagination import decode_cursor, encode_cursor
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.messaging.outbox import stage_events

# The advisory lock class of reassociation (the first key of the two-key form): CORE rule 370.
REASSOCIATION_LOCK_CLASS = 370


async def _lock_trace(conn: AsyncConnection, tenant_id: str, trace_number: str) -> None:
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
        REASSOCIATION_LOCK_CLASS, sa.func.hashtext(f"{tenant_id}/{normalize_trace(trace_number)}"))))


def _era(row) -> EraPayment:
    return EraPayment(row.id, row.payer_id, row.trace_number, row.payment_amount, row.payment_date,
                      row.originating_company_id)


def _deposit(row) -> DepositFacts:
    return DepositFacts(row.id, row.trace_number, row.amount, row.deposit_date, row.payer_id, row.payer_tin)


def _not_reassociated():
    return ~sa.exists().where(deposits.c.remittance_id == remittances.c.id)


async def candidate_eras(conn: AsyncConnection, tenant_id: str, trace_numbers: list[str]) -> list[EraPayment]:
    """ERAs with these trace numbers that moved money and have no deposit yet."""
    rows = (await conn.execute(
        sa.select(remittances.c.id, remittances.c.payer_id, remittances.c.trace_number,
                  remittances.c.payment_amount, remittances.c.payment_date,
                  remittance_originators.c.originating_company_id)
        .select_from(remittances.outerjoin(remittance_originators,
                                           remittance_originators.c.remittance_id == remittances.c.id))
        .where(remittances.c.tenant_id == tenant_id, remittances.c.trace_number.in_(trace_numbers),
               remittances.c.payment_amount > 0, _not_reassociated())
        .order_by(remittances.c.payment_date, remittances.c.id))).all()
    return [_era(row) for row in rows]


async def candidate_deposits(conn: AsyncConnection, tenant_id: str, trace_numbers: list[str]) -> list[DepositFacts]:
    rows = (await conn.execute(
        sa.select(deposits.c.id, deposits.c.trace_number, deposits.c.amount, deposits.c.deposit_date,
                  deposits.c.payer_id, deposits.c.payer_tin)
        .where(deposits.c.tenant_id == tenant_id, deposits.c.trace_number.in_(trace_numbers),
               deposits.c.status == "unmatched")
        .order_by(deposits.c.received_at, deposits.c.id))).all()
    return [_deposit(row) for row in rows]


async def _tie(conn: AsyncConnection, tenant_id: str, deposit: DepositFacts, era: EraPayment,
               now: datetime) -> RemittanceReassociated:
    await conn.execute(deposits.update().where(deposits.c.id == deposit.id)
                       .values(status="matched", remittance_id=era.id, matched_at=now))
    return RemittanceReassociated(
        tenant_id=tenant_id, remittance_id=era.id, deposit_id=deposit.id, payer_id=era.payer_id,
        trace_number=era.trace_number, amount=era.payment_amount, payment_date=era.payment_date,
        deposit_date=deposit.deposit_date, reassociated_at=now)


# -- the ERA side (called by posting) -------------------------------------------------------------------


async def _remember_originator(conn: AsyncConnection, tenant_id: str, remittance_id: UUID,
                               originating_company_id: str | None) -> None:
    if originating_company_id and originating_company_id.strip():
        await conn.execute(pg_insert(remittance_originators).values(
            remittance_id=remittance_id, tenant_id=tenant_id, originating_company_id=originating_company_id.strip(),
        ).on_conflict_do_nothing())


async def reassociate_remittance(conn: AsyncConnection, tenant_id: str, remittance_id: UUID, *,
                                 originating_company_id: str | None = None) -> list[IntegrationEvent]:
    """Tie a newly arrived ERA to its deposit if one is waiting; the events for the caller to stage."""
    header = (await conn.execute(sa.select(remittances.c.trace_number).where(
        remittances.c.id == remittance_id, remittances.c.tenant_id == tenant_id))).first()
    if header is None:
        raise LookupError(f"remittance {remittance_id} is not in practice {tenant_id}")
    await _remember_originator(conn, tenant_id, remittance_id, originating_company_id)
    await _lock_trace(conn, tenant_id, header.trace_number)
    eras = await candidate_eras(conn, tenant_id, [header.trace_number])
    era = next((e for e in eras if e.id == remittance_id), None)
    if era is None or not moves_money(era):
        return []  # already reassociated, or no money moved (nothing to find at the bank)
    waiting = await candidate_deposits(conn, tenant_id, [era.trace_number])
    outcome = reassociate([(deposit, era) for deposit in waiting])
    if outcome.matched is None:
        return []
    deposit, _ = outcome.matched
    # The deposit must fit this ERA alone: one left waiting as ambiguous between two other payers'
    # ERAs stays ambiguous when a third arrives.
    if reassociate([(deposit, other) for other in eras]).matched != (deposit, era):
        return []
    return [await _tie(conn, tenant_id, deposit, era, datetime.now(timezone.utc))]


# -- the deposit side (the API) -------------------------------------------------------------------------


async def record_deposit(conn: AsyncConnection, tenant_id: str, deposit: DepositFacts, *,
                         bank_reference: str | None) -> tuple[dict, tuple[Discrepancy, ...]]:
    """Store a deposit, reassociate it at once if its ERA is here, stage the events.

    Returns the stored row (as a mapping) and the discrepancies with ERAs of the same trace number.
    """
    now = datetime.now(timezone.utc)
    await _lock_trace(conn, tenant_id, deposit.trace_number)
    inserted = (await conn.execute(pg_insert(deposits).values(
        id=deposit.id, tenant_id=tenant_id, trace_number=deposit.trace_number, amount=deposit.amount,
        deposit_date=deposit.deposit_date, payer_id=deposit.payer_id, payer_tin=deposit.payer_tin,
        bank_reference=bank_reference, status="unmatched", received_at=now,
    ).on_conflict_do_nothing(constraint="uq_deposits_eft").returning(deposits.c.id))).first()
    if inserted is None:
        await _duplicate(conn, tenant_id, deposit)
    eras = await candidate_eras(conn, tenant_id, [deposit.trace_number])
    outcome = reassociate([(deposit, era) for era in eras])
    reassociated: list[IntegrationEvent] = []
    remittance_id = None
    if outcome.matched is not None:
        _, era = outcome.matched
        reassociated.append(await _tie(conn, tenant_id, deposit, era, now))
        remittance_id = era.id
    recorded = DepositRecorded(
        tenant_id=tenant_id, deposit_id=deposit.id, trace_number=deposit.trace_number, amount=deposit.amount,
        deposit_date=deposit.deposit_date, payer_id=deposit.payer_id,
        status="matched" if remittance_id else "unmatched", remittance_id=remittance_id, recorded_at=now)
    await stage_events(conn, [recorded], source=SOURCE, aggregate_type="deposit")
    await stage_events(conn, reassociated, source=SOURCE, aggregate_type="remittance")
    row = (await conn.execute(sa.select(deposits).where(deposits.c.id == deposit.id))).one()
    return dict(row._mapping), outcome.discrepancies


async def _duplicate(conn: AsyncConnection, tenant_id: str, deposit: DepositFacts) -> None:
    existing = (await conn.execute(sa.select(deposits.c.id).where(
        deposits.c.tenant_id == tenant_id, deposits.c.trace_number == deposit.trace_number,
        deposits.c.amount == deposit.amount))).scalar_one()
    raise Problem(409, "Duplicate deposit", "An EFT with this trace number and amount was already recorded; "
                  "nothing was recorded again.", type_="duplicate-deposit",
                  errors=[field_error("/trace_number", "already recorded with this amount")],
                  existing_deposit_id=str(existing))


# -- reading --------------------------------------------------------------------------------------------


async def deposit_discrepancies(conn: AsyncConnection, tenant_id: str,
                                unmatched: list[DepositFacts]) -> dict[UUID, tuple[Discrepancy, ...]]:
    """Why each unmatched deposit has no ERA yet, against the ERAs with its trace number (one SELECT)."""
    if not unmatched:
        return {}
    eras = await candidate_eras(conn, tenant_id, sorted({d.trace_number for d in unmatched}))
    by_trace: dict[str, list[EraPayment]] = defaultdict(list)
    for era in eras:
        by_trace[era.trace_number].append(era)
    return {d.id: reassociate([(d, era) for era in by_trace[d.trace_number]]).discrepancies for d in unmatched}


async def era_discrepancies(conn: AsyncConnection, tenant_id: str,
                            eras: list[EraPayment]) -> dict[UUID, tuple[Discrepancy, ...]]:
    """Why each ERA has no deposit yet, against the unmatched deposits with its trace number (one SELECT)."""
    if not eras:
        return {}
    waiting = await candidate_deposits(conn, tenant_id, sorted({e.trace_number for e in eras}))
    by_trace: dict[str, list[DepositFacts]] = defaultdict(list)
    for deposit in waiting:
        by_trace[deposit.trace_number].append(deposit)
    return {e.id: reassociate([(d, e) for d in by_trace[e.trace_number]]).discrepancies for e in eras}


async def unreassociated_remittances(conn: AsyncConnection, tenant_id: str, *, cursor: str | None,
                                     limit: int) -> tuple[list, str | None]:
    """ERAs that moved money and have no deposit yet, oldest payment date (BPR16) first.

    Keyset pagination ascending on (payment_date, id); the cursor is opaque like every other.
    """
    query = (sa.select(remittances.c.id, remittances.c.payer_id, remittances.c.trace_number,
                       remittances.c.payment_amount, remittances.c.payment_date, remittances.c.received_at,
                       remittance_originators.c.originating_company_id)
             .select_from(remittances.outerjoin(remittance_originators,
                                                remittance_originators.c.remittance_id == remittances.c.id))
             .where(remittances.c.tenant_id == tenant_id, remittances.c.payment_amount > 0, _not_reassociated()))
    after = decode_cursor(cursor, 2)
    if after:
        after_date, after_id = _cursor_key(after)
        query = query.where(sa.tuple_(remittances.c.payment_date, remittances.c.id)
                            > sa.tuple_(sa.literal(after_date), sa.literal(after_id)))
    rows = (await conn.execute(query.order_by(remittances.c.payment_date, remittances.c.id).limit(limit + 1))).all()
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].payment_date, page[-1].id) if len(rows) > limit else None
    return page, next_cursor


def _cursor_key(values: list[str]) -> tuple[date, UUID]:
    try:
        return date.fromisoformat(values[0]), UUID(values[1])
    except ValueError:
        raise Problem(400, "Invalid cursor", "Pass back the next_cursor of a previous page unchanged.",
                      type_="invalid-cursor", errors=[field_error("/query/cursor", "not a cursor issued by this API")]
                      ) from None
