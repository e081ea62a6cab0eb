"""Revenue-cycle KPIs over a period, each with its definition (HFMA MAP keys where one exists).

Every figure comes from the receivable movements and claim facts (insurance) and the ledger's
entries (patient): charges billed, payments, adjustments and denials dated inside the period
(`from` and `to` inclusive, UTC days), and the A/R at the end of `to`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from openrcm_collections.adapters.receivable_tables import receivable_claims, receivable_movements
from openrcm_collections.adapters.tables import ledger_entries
from openrcm_collections.receivables.aging import end_of_day, start_of_day
from openrcm_shared.money import ZERO

# Ledger entry kinds: a patient's payment (a negative amount on the account), and a write-off of
# a balance as bad debt (the adjustment kind the patient-account rules use for it).
PATIENT_PAYMENT_KINDS = ("payment",)
BAD_DEBT_KINDS = ("bad_debt", "write_off_bad_debt")
PERCENT = Decimal("0.01")
DAYS = Decimal("0.1")


@dataclass(frozen=True)
class Kpi:
    key: str
    name: str
    value: Decimal | None  # None: the denominator is zero in the period
    unit: str  # percent | days | amount
    numerator: Decimal
    denominator: Decimal
    definition: str
    hfma_map_key: str | None = None


def _ratio(numerator: Decimal, denominator: Decimal, scale: Decimal, factor: Decimal = Decimal(100)) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) * factor / Decimal(denominator)).quantize(scale, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PeriodFigures:
    charges: Decimal
    contractual: Decimal
    insurance_paid: Decimal
    patient_paid: Decimal
    bad_debt: Decimal
    denied_dollars: Decimal
    denied_claims: int
    adjudicated_claims: int
    adjudicated_charges: Decimal
    first_billed_claims: int
    clean_claims: int
    first_adjudicated_claims: int
    first_pass_resolved: int
    ending_ar: Decimal
    days: int


def _in_period(column, start: date, end: date):
    return column.between(start, end)


async def period_figures(conn, tenant_id: str, start: date, end: date) -> PeriodFigures:
    m, rc, le = receivable_movements.c, receivable_claims.c, ledger_entries.c
    moved = (await conn.execute(sa.select(
        sa.func.coalesce(sa.func.sum(m.billed), ZERO), sa.func.coalesce(sa.func.sum(m.contractual), ZERO),
        sa.func.coalesce(sa.func.sum(m.paid), ZERO),
        sa.func.coalesce(sa.func.sum(m.denied).filter(m.movement_kind == "denial_held_open"), ZERO),
        sa.func.count(sa.distinct(m.claim_id)).filter(m.movement_kind == "denial_held_open"),
        sa.func.count(sa.distinct(m.claim_id)).filter(m.movement_kind == "adjudicated"))
        .where(m.tenant_id == tenant_id, _in_period(m.occurred_on, start, end)))).one()
    adjudicated_charges = (await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(rc.billed_amount), ZERO)).where(
        rc.tenant_id == tenant_id, rc.claim_id.in_(
            sa.select(m.claim_id).where(m.tenant_id == tenant_id, m.movement_kind == "adjudicated",
                                        _in_period(m.occurred_on, start, end)))))).scalar_one()
    billed_first = _in_period(rc.first_billed_on, start, end)
    adjudicated_first = _in_period(rc.first_adjudicated_on, start, end)
    clean = sa.and_(rc.submission_count == 1, rc.rejection_count == 0, rc.hold_count == 0)
    claims = (await conn.execute(sa.select(
        sa.func.count().filter(billed_first), sa.func.count().filter(billed_first, clean),
        sa.func.count().filter(adjudicated_first),
        sa.func.count().filter(adjudicated_first, rc.first_outcome == "paid", rc.submission_count == 1))
        .where(rc.tenant_id == tenant_id))).one()
    in_period = sa.and_(le.tenant_id == tenant_id, le.posted_at >= start_of_day(start),
                        le.posted_at < end_of_day(end))
    patient = (await conn.execute(sa.select(
        sa.func.coalesce(-sa.func.sum(le.amount).filter(le.entry_kind.in_(PATIENT_PAYMENT_KINDS)), ZERO),
        sa.func.coalesce(-sa.func.sum(le.amount).filter(le.entry_kind.in_(BAD_DEBT_KINDS)), ZERO))
        .where(in_period))).one()
    insurance_ar = (await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(m.amount), ZERO)).where(
        m.tenant_id == tenant_id, m.occurred_on <= end))).scalar_one()
    patient_ar = (await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(le.amount), ZERO)).where(
        le.tenant_id == tenant_id, le.posted_at < end_of_day(end)))).scalar_one()
    return PeriodFigures(
        charges=moved[0], contractual=moved[1], insurance_paid=moved[2], patient_paid=patient[0], bad_debt=patient[1],
        denied_dollars=moved[3], denied_claims=moved[4], adjudicated_claims=moved[5],
        adjudicated_charges=adjudicated_charges, first_billed_claims=claims[0], clean_claims=claims[1],
        first_adjudicated_claims=claims[2], first_pass_resolved=claims[3], ending_ar=insurance_ar + patient_ar,
        days=(end - start).days + 1)


def kpis(f: PeriodFigures) -> list[Kpi]:
    """The KPI set from a period's figures, each with how it is computed."""
    net_revenue = f.charges - f.contractual
    collected = f.insurance_paid + f.patient_paid
    average_daily_net = net_revenue / f.days if f.days else ZERO
    return [
        Kpi("days_in_ar", "Net days in A/R", _ratio(f.ending_ar, average_daily_net, DAYS, Decimal(1)), "days",
            f.ending_ar, average_daily_net.quantize(PERCENT),
            "A/R (insurance + patient) at the end of the period / average daily net revenue (charges billed in "
            "the period minus contractual adjustments, divided by the days in the period)", "Net Days in A/R"),
        Kpi("clean_claim_rate", "Clean claim rate", _ratio(f.clean_claims, f.first_billed_claims, PERCENT), "percent",
            Decimal(f.clean_claims), Decimal(f.first_billed_claims),
            "Claims first billed in the period that went out once, were never held by the scrubber and never "
            "rejected (999/277CA) / claims first billed in the period", "CL-1 Clean Claim Rate"),
        Kpi("first_pass_resolution_rate", "First-pass resolution rate",
            _ratio(f.first_pass_resolved, f.first_adjudicated_claims, PERCENT), "percent",
            Decimal(f.first_pass_resolved), Decimal(f.first_adjudicated_claims),
            "Claims first adjudicated in the period that were paid (no line denied) on their first and only "
            "submission / claims first adjudicated in the period"),
        Kpi("denial_rate_count", "Denial rate (claims)", _ratio(f.denied_claims, f.adjudicated_claims, PERCENT),
            "percent", Decimal(f.denied_claims), Decimal(f.adjudicated_claims),
            "Claims with a denial (whole claim or a line) remitted in the period / claims remitted in the period",
            "AR-5 Remittance Denial Rate"),
        Kpi("denial_rate_dollars", "Denial rate (dollars)",
            _ratio(f.denied_dollars, f.adjudicated_charges, PERCENT), "percent", f.denied_dollars,
            f.adjudicated_charges,
            "Dollars denied on remittances in the period / charges of the claims remitted in the period"),
        Kpi("net_collection_rate", "Net collection rate", _ratio(collected, net_revenue, PERCENT), "percent",
            collected, net_revenue,
            "Payments in the period (payers' and patients') / (charges billed in the period minus contractual "
            "adjustments in the period)", "Cash Collections as a Percentage of Net Patient Service Revenue"),
        Kpi("gross_collection_rate", "Gross collection rate", _ratio(collected, f.charges, PERCENT), "percent",
            collected, f.charges, "Payments in the period (payers' and patients') / charges billed in the period"),
        Kpi("bad_debt_rate", "Bad-debt rate", _ratio(f.bad_debt, f.charges, PERCENT), "percent", f.bad_debt,
            f.charges, "Patient balances written off as bad debt in the period / charges billed in the period "
            "(gross patient service revenue)", "Bad Debt"),
    ]


@dataclass(frozen=True)
class MonthTrend:
    month: str  # YYYY-MM
    insurance_collections: Decimal
    patient_collections: Decimal
    denied_dollars: Decimal
    denied_claims: int


async def monthly_trend(conn, tenant_id: str, start: date, end: date) -> list[MonthTrend]:
    """Collections and denials month by month over the period (months with nothing show zeros)."""
    m, le = receivable_movements.c, ledger_entries.c
    month = sa.func.to_char(m.occurred_on, "YYYY-MM")
    insurance = {row[0]: row[1:] for row in (await conn.execute(sa.select(
        month, sa.func.coalesce(sa.func.sum(m.paid), ZERO),
        sa.func.coalesce(sa.func.sum(m.denied).filter(m.movement_kind == "denial_held_open"), ZERO),
        sa.func.count(sa.distinct(m.claim_id)).filter(m.movement_kind == "denial_held_open"))
        .where(m.tenant_id == tenant_id, _in_period(m.occurred_on, start, end)).group_by(month))).all()}
    posted_month = sa.func.to_char(sa.func.timezone("UTC", le.posted_at), "YYYY-MM")
    patient = dict((await conn.execute(sa.select(posted_month, -sa.func.sum(le.amount)).where(
        le.tenant_id == tenant_id, le.entry_kind.in_(PATIENT_PAYMENT_KINDS),
        le.posted_at >= start_of_day(start), le.posted_at < end_of_day(end)).group_by(posted_month))).all())
    trend = []
    for label in _months(start, end):
        paid, denied, denied_claims = insurance.get(label, (ZERO, ZERO, 0))
        trend.append(MonthTrend(label, paid, patient.get(label, ZERO), denied, denied_claims))
    return trend


def _months(start: date, end: date) -> list[str]:
    labels, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels
