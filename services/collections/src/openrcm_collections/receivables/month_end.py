"""Month-end snapshots of the A/R aging cells: the balances at the end of each closed month, open cells only.

Closing month M for a practice writes, in one transaction under the practice's month-end lock:

* insurance cells (basis, basis date, payer, financial class, provider): M-1's snapshot plus the
  rollup's cells of the movements dated in M, summed, the cells left at zero dropped;
* patient cells (basis, basis date, provider): the ledger's entries posted by the end of M, per claim
  (aged by the claim's date, an entry with no claim from its group's first entry) as the aging reads
  them, summed by cell.

Months close in order from the practice's first (movement or ledger entry), once they have ended
(UTC). The aging as of a day then reads one snapshot (the last closed month that ended by the day)
plus what moved after it: the movements and ledger entries of the day's own month up to the day.

A movement dated into a closed month later (an event consumed late, facts filled in after the close)
joins that month's snapshot and every later one in its own transaction (`summaries`), so a snapshot
stays the sum of the movements dated up to its month end. A ledger entry is dated by the
transaction that posts it, so no entry is dated into a month closed after it ended; one posted by a
transaction still open across a month end would be, and months close `CLOSE_AFTER` after their end.

A patient cell keeps the claim facts (dates, provider) known when its month closed; a claim whose
submission was seen only later is aged in closed months from its first entry, as it was then.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from openrcm_collections.adapters.receivable_tables import (
    receivable_claims, receivable_closed_months, receivable_daily_totals, receivable_month_ends, receivable_rollup,
)
from openrcm_collections.adapters.tables import ledger_entries
from openrcm_collections.receivables.summaries import month_end_lock, month_of
from openrcm_shared.db import bind_practice
from openrcm_shared.leadership import AdvisoryLockLeadership

log = logging.getLogger(__name__)

# A month is closed this long after it ended: a ledger posting's transaction open across the month
# end has committed by then.
CLOSE_AFTER = timedelta(hours=1)
CLOSE_WORK_MEM = "256MB"
CELL_KEYS = ("basis", "basis_date", "payer_id", "financial_class", "provider_npi")


def next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def start_of(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=timezone.utc)


def last_ended_month(day: date) -> date:
    """The last month that ended by the end of `day` (its first day): `day`'s own when it is its last day."""
    month = month_of(day)
    return month if next_month(month) == day + timedelta(days=1) else previous_month(month)


async def closed_through(conn, tenant_id: str) -> date | None:
    """The last closed month of the practice (its first day), None before its first close."""
    c = receivable_closed_months.c
    return (await conn.execute(sa.select(c.closed_through).where(c.tenant_id == tenant_id))).scalar_one_or_none()


def snapshot_month(closed: date | None, as_of: date) -> date | None:
    """The snapshot the aging as of `as_of` starts from: the last closed month that ended by then."""
    if closed is None:
        return None
    return min(closed, last_ended_month(as_of))


async def _first_month(conn, tenant_id: str) -> date | None:
    r, le = receivable_rollup.c, ledger_entries.c
    first_moved = (await conn.execute(sa.select(sa.func.min(r.occurred_month))
                                      .where(r.tenant_id == tenant_id))).scalar()
    first_posted = (await conn.execute(sa.select(sa.func.min(le.posted_at)).where(le.tenant_id == tenant_id))).scalar()
    months = [m for m in (first_moved, first_posted and month_of(first_posted.astimezone(timezone.utc).date())) if m]
    return min(months) if months else None


def _insurance_cells(tenant_id: str, month: date):
    """M-1's insurance snapshot plus the rollup's cells of M, as M's open cells."""
    s, r = receivable_month_ends.c, receivable_rollup.c
    earlier = sa.select(*(s[k] for k in CELL_KEYS), s.amount).where(
        s.tenant_id == tenant_id, s.month == previous_month(month), s.receivable == "insurance")
    moved = sa.select(*(r[k] for k in CELL_KEYS), r.amount).where(r.tenant_id == tenant_id, r.occurred_month == month)
    both = sa.union_all(earlier, moved).subquery()
    keys = [both.c[k] for k in CELL_KEYS]
    return (sa.select(sa.literal(tenant_id), sa.literal(month), sa.literal("insurance"), *keys,
                      sa.func.sum(both.c.amount))
            .group_by(*keys).having(sa.func.sum(both.c.amount) != 0))


def patient_claim_balances(tenant_id: str, until: datetime, since: datetime | None = None):
    """Per claim (and patient), the ledger's entries posted in [since, until): the sum, and each
    basis date (the claim's, else the first entry of the claim's entries, or of the patient's
    entries with no claim, posted before `until`) and provider, as the aging reads them."""
    le, rc = ledger_entries.c, receivable_claims.c
    window = [le.tenant_id == tenant_id, le.posted_at < until] + ([le.posted_at >= since] if since else [])
    per_claim = (sa.select(le.claim_id, le.patient_id, sa.func.min(le.posted_at).label("first_posted"),
                           sa.func.sum(le.amount).label("balance"))
                 .where(*window).group_by(le.claim_id, le.patient_id).subquery())
    first = per_claim.c.first_posted
    if since is not None:  # the group may have entries before `since`: its first is the first of all
        earlier = ledger_entries.alias("earlier")
        first = (sa.select(sa.func.min(earlier.c.posted_at))
                 .where(earlier.c.tenant_id == tenant_id, earlier.c.patient_id == per_claim.c.patient_id,
                        earlier.c.claim_id.is_not_distinct_from(per_claim.c.claim_id), earlier.c.posted_at < until)
                 .scalar_subquery())
    first_day = sa.cast(sa.func.timezone("UTC", first), sa.Date)
    if since is not None:  # a month of entries at most: each claim looked up by its key
        claim = (sa.select(rc.service_date, rc.first_billed_on, rc.rendering_provider_npi, rc.billing_provider_npi)
                 .where(rc.tenant_id == tenant_id, rc.claim_id == per_claim.c.claim_id).lateral("claim"))
        joined, c = per_claim.outerjoin(claim, sa.true()), claim.c
    else:  # the whole ledger (a month's close, an unclosed practice): one hash join
        joined = per_claim.outerjoin(receivable_claims, sa.and_(rc.tenant_id == tenant_id,
                                                                rc.claim_id == per_claim.c.claim_id))
        c = rc
    # coalesce evaluates the first-entry lookup only for a claim the receivables do not know.
    return (sa.select(per_claim.c.patient_id, per_claim.c.balance,
                      sa.func.coalesce(c.service_date, first_day).label("service_date"),
                      sa.func.coalesce(c.first_billed_on, first_day).label("first_billed"),
                      sa.func.coalesce(c.rendering_provider_npi, c.billing_provider_npi, "").label("provider_npi"))
            .select_from(joined))


def _patient_cells(tenant_id: str, month: date):
    """The ledger's balances at the end of M by basis, basis date and provider."""
    # A CTE: computed once for both bases (one pass over the ledger).
    claims = patient_claim_balances(tenant_id, start_of(next_month(month))).cte("claim_balances")
    bases = sa.union_all(
        sa.select(sa.literal("service_date").label("basis"), claims.c.service_date.label("basis_date"),
                  claims.c.provider_npi, claims.c.balance),
        sa.select(sa.literal("first_billed"), claims.c.first_billed, claims.c.provider_npi, claims.c.balance),
    ).subquery()
    keys = [bases.c.basis, bases.c.basis_date, sa.literal(""), sa.literal(""), bases.c.provider_npi]
    return (sa.select(sa.literal(tenant_id), sa.literal(month), sa.literal("patient"), *keys,
                      sa.func.sum(bases.c.balance))
            .group_by(bases.c.basis, bases.c.basis_date, bases.c.provider_npi)
            .having(sa.func.sum(bases.c.balance) != 0))


_SNAPSHOT_COLUMNS = ["tenant_id", "month", "receivable", *CELL_KEYS, "amount"]


async def close_next_month(conn, tenant_id: str, now: datetime) -> date | None:
    """Close the practice's next month if it ended `CLOSE_AFTER` before `now` (in the caller's
    transaction, acting for the practice); returns the month closed, None when none is due."""
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(month_end_lock(tenant_id))))
    closed = await closed_through(conn, tenant_id)
    month = next_month(closed) if closed is not None else await _first_month(conn, tenant_id)
    if month is None or start_of(next_month(month)) + CLOSE_AFTER > now:
        return None
    # The patient cells hash every claim's ledger balance: in memory, not spilled to disk.
    await conn.exec_driver_sql(f"SET LOCAL work_mem = '{CLOSE_WORK_MEM}'")
    for cells in (_insurance_cells(tenant_id, month), _patient_cells(tenant_id, month)):
        await conn.execute(receivable_month_ends.insert().from_select(_SNAPSHOT_COLUMNS, cells))
    c = receivable_closed_months.c
    if closed is None:
        await conn.execute(receivable_closed_months.insert().values(tenant_id=tenant_id, closed_through=month,
                                                                    closed_at=now))
    else:
        await conn.execute(receivable_closed_months.update().where(c.tenant_id == tenant_id)
                           .values(closed_through=month, closed_at=now))
    return month


async def close_practice(engine, tenant_id: str, now: datetime) -> int:
    """Close every due month of the practice, one transaction each (as the app role); returns how many."""
    closed = 0
    while True:
        async with engine.begin() as conn:
            await bind_practice(conn, tenant_id)
            if await close_next_month(conn, tenant_id, now) is None:
                return closed
        closed += 1


async def practices(system_engine) -> list[str]:
    """The practices with receivables (the system role reads only the daily totals' keys)."""
    async with system_engine.connect() as conn:
        return list((await conn.execute(sa.select(receivable_daily_totals.c.tenant_id).distinct())).scalars())


async def close_due_months(runtime, now: datetime) -> int:
    """Every practice's due months; a practice that fails is logged and left for the next round."""
    closed = 0
    for tenant_id in await practices(runtime.system_engine):
        try:
            closed += await close_practice(runtime.engine, tenant_id, now)
        except Exception as exc:  # one practice must not hold up the others
            log.warning("month-end close failed", extra={"error_class": type(exc).__name__})
    return closed


async def run_month_end_closer(runtime, interval_seconds: float = 900.0) -> None:
    """The leader (one process per database, advisory lock) closes due months every `interval_seconds`."""
    async def lead(_lock_conn) -> None:
        while True:
            await close_due_months(runtime, datetime.now(timezone.utc))
            await asyncio.sleep(interval_seconds)

    await AdvisoryLockLeadership(runtime.system_engine, "collections-month-end-closer",
                                 role="month-end closer").run(lead)
