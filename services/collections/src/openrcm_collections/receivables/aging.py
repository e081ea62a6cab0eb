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

from openrcm_collections.adapters.receivable_tables import (
    receivable_month_ends, receivable_movements, receivable_rollup,
)
from openrcm_collections.receivables.month_end import (
    closed_through, last_ended_month, next_month, patient_claim_balances, snapshot_month, start_of,
)
from openrcm_shared.http.pagination import decode_cursor, encode_cursor, invalid_cursor
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


def _insurance_parts(tenant_id: str, as_of: date, basis: AgingBasis, group: str, snapshot: date | None):
    """(group, basis date, amount) rows summing to the insurance A/R as of `as_of`: the snapshot of
    the last closed month ended by then, the rollup's cells of any month after it that ended by then
    (a closer running late), and the movements after those months up to the day (an index range)."""
    s, r, m = receivable_month_ends.c, receivable_rollup.c, receivable_movements.c
    last = last_ended_month(as_of)
    parts = []
    if snapshot is not None:
        parts.append(sa.select(s[group].label("group_key"), s.basis_date, s.amount).where(
            s.tenant_id == tenant_id, s.month == snapshot, s.receivable == "insurance", s.basis == basis.value))
    if snapshot != last:
        months = [r.occurred_month <= last] + ([r.occurred_month > snapshot] if snapshot is not None else [])
        parts.append(sa.select(r[group].label("group_key"), r.basis_date, r.amount).where(
            r.tenant_id == tenant_id, r.basis == basis.value, *months))
    basis_date = m.service_date if basis is AgingBasis.SERVICE_DATE else m.first_billed_on
    parts.append(sa.select(sa.func.coalesce(m[group], "").label("group_key"),
                           sa.func.coalesce(basis_date, m.occurred_on).label("basis_date"), m.amount)
                 .where(m.tenant_id == tenant_id, m.occurred_on >= next_month(last), m.occurred_on <= as_of))
    return parts


def _patient_parts(tenant_id: str, as_of: date, basis: AgingBasis, group_by: AgingGroup, snapshot: date | None):
    """(group, basis date, amount) rows summing to the patient A/R as of `as_of`: the snapshot's
    patient cells and the ledger's entries posted after its month up to the day. By payer or
    financial class a patient balance is the patient's, whoever the claim's payer was."""
    s = receivable_month_ends.c
    by_provider = group_by is AgingGroup.PROVIDER
    parts = []
    if snapshot is not None:
        parts.append(sa.select((s.provider_npi if by_provider else sa.literal("")).label("group_key"), s.basis_date,
                               s.amount)
                     .where(s.tenant_id == tenant_id, s.month == snapshot, s.receivable == "patient",
                            s.basis == basis.value))
    since = start_of(next_month(snapshot)) if snapshot is not None else None
    claims = patient_claim_balances(tenant_id, end_of_day(as_of), since).subquery()
    claim_basis = claims.c.service_date if basis is AgingBasis.SERVICE_DATE else claims.c.first_billed
    parts.append(sa.select((claims.c.provider_npi if by_provider else sa.literal("")).label("group_key"),
                           claim_basis.label("basis_date"), claims.c.balance.label("amount")))
    return parts


def _bucketed(parts, as_of: date):
    both = sa.union_all(*parts).subquery()
    bucket = _bucket_sql(sa.literal(as_of, sa.Date) - both.c.basis_date)
    return (sa.select(sa.func.nullif(both.c.group_key, "").label("group_key"), bucket.label("bucket"),
                      sa.func.sum(both.c.amount).label("amount"))
            .group_by(both.c.group_key, bucket))


_CELL_GROUP = {AgingGroup.PAYER: "payer_id", AgingGroup.FINANCIAL_CLASS: "financial_class",
               AgingGroup.PROVIDER: "provider_npi"}


async def insurance_total(conn, tenant_id: str, as_of: date) -> Decimal:
    """The insurance A/R as of the end of `as_of` (all claims), from the month-end snapshot, the rollup
    and the movements since."""
    snapshot = snapshot_month(await closed_through(conn, tenant_id), as_of)
    both = sa.union_all(*_insurance_parts(tenant_id, as_of, AgingBasis.SERVICE_DATE, "payer_id", snapshot)).subquery()
    return (await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(both.c.amount), ZERO)))).scalar_one()


async def aging(conn, tenant_id: str, as_of: date, basis: AgingBasis, group_by: AgingGroup) -> list[AgingRow]:
    """Insurance and patient A/R as of the end of `as_of`, by payer, financial class or provider and
    bucket (groups sorted by total, largest first); by patient see `patient_page`."""
    if group_by is AgingGroup.PATIENT:
        raise ValueError("the aging by patient is paged: patient_page")
    snapshot = snapshot_month(await closed_through(conn, tenant_id), as_of)
    group = _CELL_GROUP[group_by]
    rows: dict[tuple[str, str], AgingRow] = {}
    for receivable, parts in (("insurance", _insurance_parts(tenant_id, as_of, basis, group, snapshot)),
                              ("patient", _patient_parts(tenant_id, as_of, basis, group_by, snapshot))):
        for group_key, bucket, amount in (await conn.execute(_bucketed(parts, as_of))).all():
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


class PatientSort(StrEnum):
    BALANCE = "balance"  # the patient's A/R (insurance + patient), largest first
    OLDEST_BUCKET = "oldest_bucket"  # the oldest bucket holding a balance, oldest first; then by balance


@dataclass(frozen=True)
class PatientCursor:
    """Where a page ended: the last patient's sort key (oldest bucket's index, balance) and id, in the
    API's opaque cursor (`openrcm_shared.http.pagination`)."""

    oldest: int
    balance: Decimal
    patient_id: str

    def encode(self) -> str:
        return encode_cursor(self.oldest, self.balance, self.patient_id)

    @classmethod
    def decode(cls, text: str | None) -> "PatientCursor | None":
        """None for no cursor; a 400 problem naming the cursor for anything this report did not write."""
        values = decode_cursor(text, 3)
        if values is None:
            return None
        oldest, balance, patient_id = values
        try:
            cursor = cls(int(oldest), Decimal(balance), patient_id)
        except (ValueError, ArithmeticError):
            raise invalid_cursor() from None
        if not 0 <= cursor.oldest < len(BUCKETS) or not cursor.balance.is_finite() or abs(cursor.balance) >= 10 ** 12:
            raise invalid_cursor()
        return cursor


@dataclass
class PatientPage:
    rows: list[AgingRow]  # each patient's insurance and patient rows (those not zero), in the page's order
    next_cursor: PatientCursor | None


def _bucket_index(age):
    """The index of the bucket of a balance `age` days old (0 for `0_30`... 4 for `over_120`)."""
    return sa.case(*[(age <= last, n) for n, (_, _, last) in enumerate(BUCKETS) if last is not None],
                   else_=len(BUCKETS) - 1)


def _per_patient(tenant_id: str, as_of: date, basis: AgingBasis):
    """Each patient's insurance and patient A/R by bucket (i_0_30..., p_0_30...): the movements and
    the ledger's claim balances summed by (patient, bucket) in one pass each, then turned into one
    row per patient, all in PostgreSQL."""
    m = receivable_movements.c
    day = sa.literal(as_of, sa.Date)
    basis_date = m.service_date if basis is AgingBasis.SERVICE_DATE else m.first_billed_on
    insurance_bucket = _bucket_index(day - sa.func.coalesce(basis_date, m.occurred_on))
    insurance = (sa.select(m.patient_id, sa.literal(0).label("receivable"), insurance_bucket.label("bucket"),
                           sa.func.sum(m.amount).label("amount"))
                 .where(m.tenant_id == tenant_id, m.occurred_on <= as_of).group_by(m.patient_id, insurance_bucket))
    claims = patient_claim_balances(tenant_id, end_of_day(as_of)).subquery()
    claim_basis = claims.c.service_date if basis is AgingBasis.SERVICE_DATE else claims.c.first_billed
    patient_bucket = _bucket_index(day - claim_basis)
    patient = (sa.select(claims.c.patient_id, sa.literal(1), patient_bucket, sa.func.sum(claims.c.balance))
               .group_by(claims.c.patient_id, patient_bucket))
    cells = sa.union_all(insurance, patient).subquery()
    sums = [sa.func.coalesce(sa.func.sum(cells.c.amount).filter(sa.and_(cells.c.receivable == r, cells.c.bucket == n)),
                             ZERO).label(f"{prefix}_{name}")
            for r, prefix in ((0, "i"), (1, "p")) for n, name in enumerate(BUCKET_NAMES)]
    return sa.select(cells.c.patient_id, *sums).group_by(cells.c.patient_id).subquery()


# Room for the per-patient sums: hundreds of thousands of patients hashed in memory, not on disk.
PATIENT_PAGE_WORK_MEM = "256MB"


async def patient_page(conn, tenant_id: str, as_of: date, basis: AgingBasis, sort: PatientSort, limit: int,
                       after: PatientCursor | None = None) -> PatientPage:
    """One page of the A/R by patient as of the end of `as_of`: up to `limit` patients with a balance,
    in `sort` order (ties by patient id), after `after`; computed and paged in PostgreSQL."""
    per = _per_patient(tenant_id, as_of, basis)
    insurance = [per.c[f"i_{name}"] for name in BUCKET_NAMES]
    patient = [per.c[f"p_{name}"] for name in BUCKET_NAMES]
    combined = [i + p for i, p in zip(insurance, patient)]
    balance = sum(combined[1:], combined[0])
    oldest = sa.case(*[(combined[n] != 0, n) for n in reversed(range(1, len(BUCKETS)))], else_=0)
    ranked = (sa.select(per.c.patient_id, *insurance, *patient, balance.label("balance"), oldest.label("oldest"))
              .where(sa.or_(*(column != 0 for column in insurance + patient))).subquery())
    r = ranked.c
    order = [r.balance.desc(), r.patient_id]
    if sort is PatientSort.OLDEST_BUCKET:
        order = [r.oldest.desc(), *order]
    query = sa.select(ranked).order_by(*order).limit(limit + 1)
    if after is not None:
        later = sa.or_(r.balance < after.balance, sa.and_(r.balance == after.balance, r.patient_id > after.patient_id))
        if sort is PatientSort.OLDEST_BUCKET:
            later = sa.or_(r.oldest < after.oldest, sa.and_(r.oldest == after.oldest, later))
        query = query.where(later)
    await conn.exec_driver_sql(f"SET LOCAL work_mem = '{PATIENT_PAGE_WORK_MEM}'")
    found = (await conn.execute(query)).all()
    rows = []
    for found_row in found[:limit]:
        for receivable, prefix in (("insurance", "i"), ("patient", "p")):
            buckets = {name: getattr(found_row, f"{prefix}_{name}") for name in BUCKET_NAMES}
            if any(buckets.values()):
                rows.append(AgingRow(group=found_row.patient_id, receivable=receivable, buckets=buckets))
    last = found[limit - 1] if len(found) > limit else None
    next_cursor = PatientCursor(last.oldest, last.balance, last.patient_id) if last is not None else None
    return PatientPage(rows=rows, next_cursor=next_cursor)
