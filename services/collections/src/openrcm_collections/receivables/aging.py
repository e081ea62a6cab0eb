"""A/R aging as of any date: insurance receivables from their dated movements, patient receivables
from the ledger's entries posted by then; each claim's balance in one age bucket.

A claim's age is counted from its date of service (`service_date`) or from the day it was first
billed (`first_billed`) to the as-of date. A patient balance with no claim (an unapplied payment,
a credit) is aged from its first entry. Everything is as of the end of the as-of day, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa

from openrcm_collections.adapters.receivable_tables import receivable_claims, receivable_movements, receivable_rollup
from openrcm_collections.adapters.tables import ledger_entries
from openrcm_collections.receivables.summaries import month_of
from openrcm_shared.money import ZERO

# (name, first day, last day) of each bucket; the last is open-ended.
BUCKETS = (("0_30", 0, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("91_120", 91, 120), ("over_120", 121, None))
BUCKET_NAMES = tuple(name for name, _, _ in BUCKETS)
# The group a patient balance falls in when grouping by payer or financial class.
PATIENT_GROUP = "patient"


class AgingBasis(StrEnum):
    SERVICE_DATE = "service_date"
    FIRST_BILLED = "first_billed"


class AgingGroup(StrEnum):
    PAYER = "payer"
    FINANCIAL_CLASS = "financial_class"
    PROVIDER = "provider"
    PATIENT = "patient"


_PATIENT_AS_GROUP = (AgingGroup.PAYER, AgingGroup.FINANCIAL_CLASS)


def bucket_of(age_days: int) -> str:
    """The bucket of a balance `age_days` old (a date in the future counts as 0 days old)."""
    for name, _, last in BUCKETS:
        if last is None or age_days <= last:
            return name
    raise AssertionError("the last bucket is open-ended")


def _bucket_sql(age):
    return sa.case(*[(age <= last, name) for name, _, last in BUCKETS if last is not None], else_=BUCKETS[-1][0])


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def end_of_day(day: date) -> datetime:
    """The first instant after `day` (UTC): entries posted before it are in the day's balances."""
    return start_of_day(day + timedelta(days=1))


@dataclass
class AgingRow:
    group: str
    receivable: str  # insurance | patient
    buckets: dict[str, Decimal] = field(default_factory=lambda: {name: ZERO for name in BUCKET_NAMES})

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)


def _insurance_query(tenant_id: str, as_of: date, basis: AgingBasis, group_by: AgingGroup):
    """By patient: one pass over the movements up to the day. Otherwise the rollup's cells of the
    months before the day's month, plus the movements of that month up to the day (few)."""
    m = receivable_movements.c
    basis_date = m.service_date if basis is AgingBasis.SERVICE_DATE else m.first_billed_on
    if group_by is AgingGroup.PATIENT:
        bucket = _bucket_sql(sa.literal(as_of, sa.Date) - sa.func.coalesce(basis_date, m.occurred_on))
        return (sa.select(m.patient_id.label("group_key"), bucket.label("bucket"), sa.func.sum(m.amount).label("amount"))
                .where(m.tenant_id == tenant_id, m.occurred_on <= as_of)
                .group_by(m.patient_id, bucket))
    r = receivable_rollup.c
    month = month_of(as_of)
    cells = (sa.select(r[_ROLLUP_GROUP[group_by]].label("group_key"), r.basis_date, r.amount)
             .where(r.tenant_id == tenant_id, r.basis == basis.value, r.occurred_month < month))
    recent = (sa.select(sa.func.coalesce(m[_MOVEMENT_GROUP[group_by]], "").label("group_key"),
                        sa.func.coalesce(basis_date, m.occurred_on).label("basis_date"), m.amount)
              .where(m.tenant_id == tenant_id, m.occurred_on >= month, m.occurred_on <= as_of))
    both = sa.union_all(cells, recent).subquery()
    bucket = _bucket_sql(sa.literal(as_of, sa.Date) - both.c.basis_date)
    return (sa.select(sa.func.nullif(both.c.group_key, "").label("group_key"), bucket.label("bucket"),
                      sa.func.sum(both.c.amount).label("amount"))
            .group_by(both.c.group_key, bucket))


_ROLLUP_GROUP = {AgingGroup.PAYER: "payer_id", AgingGroup.FINANCIAL_CLASS: "financial_class",
                 AgingGroup.PROVIDER: "provider_npi"}
_MOVEMENT_GROUP = _ROLLUP_GROUP


async def insurance_total(conn, tenant_id: str, as_of: date) -> Decimal:
    """The insurance A/R as of the end of `as_of` (all claims), from the rollup and the month's movements."""
    r, m = receivable_rollup.c, receivable_movements.c
    month = month_of(as_of)
    earlier = sa.select(sa.func.coalesce(sa.func.sum(r.amount), ZERO)).where(
        r.tenant_id == tenant_id, r.basis == AgingBasis.SERVICE_DATE.value, r.occurred_month < month)
    recent = sa.select(sa.func.coalesce(sa.func.sum(m.amount), ZERO)).where(
        m.tenant_id == tenant_id, m.occurred_on >= month, m.occurred_on <= as_of)
    return (await conn.execute(earlier)).scalar_one() + (await conn.execute(recent)).scalar_one()


def _patient_query(tenant_id: str, as_of: date, basis: AgingBasis, group_by: AgingGroup):
    le, rc = ledger_entries.c, receivable_claims.c
    per_claim = (sa.select(le.claim_id, le.patient_id, sa.func.min(le.posted_at).label("first_posted"),
                           sa.func.sum(le.amount).label("balance"))
                 .where(le.tenant_id == tenant_id, le.posted_at < end_of_day(as_of))
                 .group_by(le.claim_id, le.patient_id)
                 .having(sa.func.sum(le.amount) != 0).subquery())
    claim_basis = rc.service_date if basis is AgingBasis.SERVICE_DATE else rc.first_billed_on
    basis_date = sa.func.coalesce(claim_basis, sa.cast(sa.func.timezone("UTC", per_claim.c.first_posted), sa.Date))
    # By payer or financial class a patient balance is the patient's, whoever the claim's payer was.
    group = {AgingGroup.PROVIDER: sa.func.coalesce(rc.rendering_provider_npi, rc.billing_provider_npi),
             AgingGroup.PATIENT: per_claim.c.patient_id}.get(group_by)
    bucket = _bucket_sql(sa.literal(as_of, sa.Date) - basis_date)
    keys = [bucket] if group is None else [group, bucket]
    return (sa.select((group if group is not None else sa.null()).label("group_key"), bucket.label("bucket"),
                      sa.func.sum(per_claim.c.balance).label("amount"))
            .select_from(per_claim.outerjoin(receivable_claims, sa.and_(rc.tenant_id == tenant_id,
                                                                        rc.claim_id == per_claim.c.claim_id)))
            .group_by(*keys))


async def aging(conn, tenant_id: str, as_of: date, basis: AgingBasis, group_by: AgingGroup) -> list[AgingRow]:
    """Insurance and patient A/R as of the end of `as_of`, by group and bucket (groups sorted by total, largest first)."""
    rows: dict[tuple[str, str], AgingRow] = {}
    for receivable, query in (("insurance", _insurance_query(tenant_id, as_of, basis, group_by)),
                              ("patient", _patient_query(tenant_id, as_of, basis, group_by))):
        for group_key, bucket, amount in (await conn.execute(query)).all():
            if group_key is None:
                group_key = PATIENT_GROUP if receivable == "patient" and group_by in _PATIENT_AS_GROUP else "unknown"
            row = rows.setdefault((group_key, receivable), AgingRow(group=group_key, receivable=receivable))
            row.buckets[bucket] += amount
    for key in [key for key, row in rows.items() if all(v == ZERO for v in row.buckets.values())]:
        del rows[key]  # every claim of the group settled by then
    return sorted(rows.values(), key=lambda r: (r.receivable, -r.total, r.group))


def totals(rows: list[AgingRow], receivable: str | None = None) -> dict[str, Decimal]:
    """Bucket totals (and `total`) over `rows`, or over those of one receivable."""
    summed = {name: ZERO for name in BUCKET_NAMES}
    for row in rows:
        if receivable is None or row.receivable == receivable:
            for name, amount in row.buckets.items():
                summed[name] += amount
    return {**summed, "total": sum(summed.values(), ZERO)}
