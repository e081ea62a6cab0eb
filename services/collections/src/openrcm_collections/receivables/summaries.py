"""The reports' summaries of the movements, kept in the transaction that records each movement.

`receivable_rollup` sums the movements by basis date (service date, first billed date), month moved
and group (payer, financial class, provider): the aging as of a day is the cells of the months before
the day's month plus the movements of that month up to the day, whatever the number of claims.
`receivable_daily_totals` sums the KPIs' components by day. Both are derived: rebuilt from the
movements by `rebuild_summaries` (the bench seeds them that way).

A movement dated into a month already closed (`receivables.month_end`: a late event, or facts filled
in after the close) also moves that month's snapshot and every later one. The month-end closer and
the movements serialise on one advisory lock per practice (the closer's exclusive, the movements'
shared): a month's snapshot is either closed before a movement's transaction reads how far the
practice is closed, or after that transaction committed its rollup cells, never in between.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_collections.adapters.receivable_tables import (
    receivable_closed_months, receivable_daily_totals, receivable_month_ends, receivable_movements, receivable_rollup,
)

BASES = {"service_date": "service_date", "first_billed": "first_billed_on"}
_MONTH_END_LOCK = "openrcm-receivable-month-ends:"


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_end_lock(tenant_id: str):
    """The practice's advisory lock key between the month-end closer and the movements."""
    return sa.func.hashtextextended(sa.literal(_MONTH_END_LOCK + tenant_id, sa.Text), 0)


# Every closed month from the movement's on: the months' snapshots it must join (none when its month
# is not closed yet, or the practice has never been closed).
_ADD_TO_CLOSED_MONTHS = sa.text("""
INSERT INTO receivable_month_ends AS snapshot
    (tenant_id, month, receivable, basis, basis_date, payer_id, financial_class, provider_npi, amount)
SELECT closed.tenant_id, months.month::date, 'insurance', cells.basis, cells.basis_date, CAST(:payer_id AS text),
       CAST(:financial_class AS text), CAST(:provider_npi AS text), CAST(:amount AS numeric)
FROM receivable_closed_months AS closed
CROSS JOIN LATERAL generate_series(CAST(:month AS date), closed.closed_through, interval '1 month') AS months(month)
CROSS JOIN (VALUES ('service_date', CAST(:service_basis AS date)),
                   ('first_billed', CAST(:billed_basis AS date))) AS cells(basis, basis_date)
WHERE closed.tenant_id = :tenant_id
ON CONFLICT (tenant_id, month, receivable, basis, basis_date, payer_id, financial_class, provider_npi)
DO UPDATE SET amount = snapshot.amount + EXCLUDED.amount
""")


# The statements a movement runs, built once and run with parameters (building one per movement,
# its values and then its cache key, was most of the consumer's CPU per claim). Each adds to its row
# (HandlerContext.add_at_commit): a consumer run of many events writes each cell once, at its commit.
_HOLD_MONTH_END_LOCK = sa.select(sa.func.pg_advisory_xact_lock_shared(sa.func.hashtextextended(
    sa.literal(_MONTH_END_LOCK, sa.Text) + sa.bindparam("tenant_id", type_=sa.Text), 0)))
_ROLLUP_KEYS = ("tenant_id", "basis", "basis_date", "occurred_month", "payer_id", "financial_class", "provider_npi")
_rollup_row = pg_insert(receivable_rollup)
_ADD_TO_ROLLUP = _rollup_row.values(
    {name: sa.bindparam(name, type_=receivable_rollup.c[name].type) for name in (*_ROLLUP_KEYS, "amount")}
).on_conflict_do_update(index_elements=list(_ROLLUP_KEYS),
                        set_={"amount": receivable_rollup.c.amount + _rollup_row.excluded.amount})
_KPI_SUMS = ("billed", "paid", "contractual", "denied", "denied_claims", "adjudicated_claims", "adjudicated_charges")
_kpi_row = pg_insert(receivable_daily_totals)
_ADD_TO_DAY = _kpi_row.values(
    {name: sa.bindparam(name, type_=receivable_daily_totals.c[name].type)
     for name in ("tenant_id", "occurred_on", *_KPI_SUMS)}
).on_conflict_do_update(index_elements=["tenant_id", "occurred_on"],
                        set_={name: receivable_daily_totals.c[name] + _kpi_row.excluded[name] for name in _KPI_SUMS})


async def _hold_month_end_lock(ctx, tenant_id: str) -> None:
    """Shared with the other movements, exclusive of the closer; until the transaction ends. Taken
    before the rollup's rows are locked (added before them, a run's deferred writes keep that
    order), so a closer waiting for it never waits on a movement that waits on such a row; once per
    practice in a run."""
    await ctx.add_at_commit(_HOLD_MONTH_END_LOCK, {"tenant_id": tenant_id}, {})


async def _add_to_closed_months(ctx, cells: dict[str, dict], occurred_on: date, amount: Decimal) -> None:
    some = cells["service_date"]
    await ctx.add_at_commit(_ADD_TO_CLOSED_MONTHS, {
        "tenant_id": some["tenant_id"], "month": month_of(occurred_on), "payer_id": some["payer_id"],
        "financial_class": some["financial_class"], "provider_npi": some["provider_npi"],
        "service_basis": cells["service_date"]["basis_date"], "billed_basis": cells["first_billed"]["basis_date"]},
        {"amount": amount})


def _cell(tenant_id: str, basis: str, facts: dict, occurred_on: date) -> dict:
    return {"tenant_id": tenant_id, "basis": basis, "basis_date": facts.get(BASES[basis]) or occurred_on,
            "occurred_month": month_of(occurred_on), "payer_id": facts.get("payer_id") or "",
            "financial_class": facts.get("financial_class") or "", "provider_npi": facts.get("provider_npi") or ""}


async def _add_to_cells(ctx, tenant_id: str, facts: dict, occurred_on: date, amount: Decimal) -> None:
    # The lock even for a zero amount: in a run it must be the practice's first deferred write.
    await _hold_month_end_lock(ctx, tenant_id)
    cells = {basis: _cell(tenant_id, basis, facts, occurred_on) for basis in BASES}
    for cell in cells.values():
        await ctx.add_at_commit(_ADD_TO_ROLLUP, cell, {"amount": amount})
    if amount:
        # Read how far the practice is closed when written: under the lock, after the cells.
        await _add_to_closed_months(ctx, cells, occurred_on, amount)


async def add_movement(ctx, tenant_id: str, facts: dict, occurred_on: date, movement, charge: Decimal | None) -> None:
    """One movement into the aging cells and the day's KPI sums (`ctx`: the consumer's HandlerContext)."""
    await _add_to_cells(ctx, tenant_id, facts, occurred_on, movement.amount)
    held, adjudicated = movement.kind == "denial_held_open", movement.kind == "adjudicated"
    await ctx.add_at_commit(_ADD_TO_DAY, {"tenant_id": tenant_id, "occurred_on": occurred_on}, {
        "billed": movement.billed, "paid": movement.paid, "contractual": movement.contractual,
        "denied": movement.denied if held else Decimal(0), "denied_claims": 1 if held else 0,
        "adjudicated_claims": 1 if adjudicated else 0,
        "adjudicated_charges": charge if adjudicated and charge is not None else Decimal(0)})


async def move_between_cells(ctx, tenant_id: str, before: dict, after: dict, occurred_on: date,
                             amount: Decimal) -> None:
    """A movement's facts were filled in: its amount leaves the cells it counted in and joins the right ones."""
    await _add_to_cells(ctx, tenant_id, before, occurred_on, -amount)
    await _add_to_cells(ctx, tenant_id, after, occurred_on, amount)


def _rollup_select(basis: str):
    m = receivable_movements.c
    basis_date = sa.func.coalesce(m[BASES[basis]], m.occurred_on)
    month = sa.cast(sa.func.date_trunc("month", m.occurred_on), sa.Date)
    keys = [m.tenant_id, sa.literal(basis), basis_date, month, sa.func.coalesce(m.payer_id, ""),
            sa.func.coalesce(m.financial_class, ""), sa.func.coalesce(m.provider_npi, "")]
    return sa.select(*keys, sa.func.sum(m.amount)).group_by(*keys[:1], *keys[2:])


async def rebuild_summaries(conn) -> None:
    """Both summaries again from every movement (a bulk load, or a repair); the month-end snapshots
    are dropped with them, for the closer to close every month again."""
    await conn.execute(receivable_closed_months.delete())
    await conn.execute(receivable_month_ends.delete())
    await conn.execute(receivable_rollup.delete())
    await conn.execute(receivable_daily_totals.delete())
    columns = ["tenant_id", "basis", "basis_date", "occurred_month", "payer_id", "financial_class", "provider_npi",
               "amount"]
    for basis in BASES:
        await conn.execute(receivable_rollup.insert().from_select(columns, _rollup_select(basis)))
    m = receivable_movements.c
    adjudicated, held = m.movement_kind == "adjudicated", m.movement_kind == "denial_held_open"
    await conn.execute(receivable_daily_totals.insert().from_select(
        ["tenant_id", "occurred_on", "billed", "paid", "contractual", "denied", "denied_claims", "adjudicated_claims",
         "adjudicated_charges"],
        sa.select(m.tenant_id, m.occurred_on, sa.func.sum(m.billed), sa.func.sum(m.paid), sa.func.sum(m.contractual),
                  sa.func.coalesce(sa.func.sum(m.denied).filter(held), 0), sa.func.count().filter(held),
                  sa.func.count().filter(adjudicated),
                  # The charge a remittance adjudicated is what its movement settled (billed on the claim).
                  sa.func.coalesce(sa.func.sum(-m.amount).filter(adjudicated), 0))
        .group_by(m.tenant_id, m.occurred_on)))
