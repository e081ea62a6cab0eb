"""Revenue-cycle KPIs over a period, each with its definition (HFMA MAP keys where one exists).

Every figure comes from the receivable movements' daily totals and the claim facts (insurance) and
the ledger's entries (patient): charges billed, payments, adjustments and denials dated inside the period
(`from` and `to` inclusive, UTC days), and the A/R at the end of `to`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from openrcm_collections.adapters.receivable_tables import (
    receivable_claims, receivable_daily_totals, receivable_movements,
)
from openrcm_collections.adapters.tables import ledger_entries
from openrcm_collections.receivables.aging import end_of_day, insurance_total, start_of_day
from openrcm_shared.money import ZERO

# Ledger entry kinds: a patient's payment (a negative amount on the account), and a write-off of
# a balance as bad debt (the adjustment kind the patient-account rules use for it).
PATIENT_PAYMENT_KINDS = ("payment",)
BAD_DEBT_KINDS = ("bad_debt", "write_off_bad_debt")
# Denials the practice gave up on (DenialWrittenOff): an administrative write-off of the payer's
# receivable, reported on its own as HFMA's MAP key does, never inside bad debt (what patients leave unpaid).
DENIAL_WRITE_OFF_KINDS = ("denial_written_off",)
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
    denial_write_offs: Decimal
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


async def _daily_sums(conn, tenant_id: str, start: date, end: date):
    d = receivable_daily_totals.c
    return (await conn.execute(sa.select(
        *(sa.func.coalesce(sa.func.sum(d[name]), 0) for name in (
            "billed", "contractual", "paid", "denied", "denied_claims", "adjudicated_claims", "adjudicated_charges")))
        .where(d.tenant_id == tenant_id, _in_period(d.occurred_on, start, end)))).one()


async def _claim_counts(conn, tenant_id: str, start: date, end: date):
    rc = receivable_claims.c
    clean = sa.and_(rc.submission_count == 1, rc.rejection_count == 0, rc.hold_count == 0)
    billed = (await conn.execute(sa.select(sa.func.count(), sa.func.count().filter(clean)).where(
        rc.tenant_id == tenant_id, _in_period(rc.first_billed_on, start, end)))).one()
    adjudicated = (await conn.execute(sa.select(
        sa.func.count(), sa.func.count().filter(rc.first_outcome == "paid", rc.submission_count == 1)).where(
        rc.tenant_id == tenant_id, _in_period(rc.first_adjudicated_on, start, end)))).one()
    return (*billed, *adjudicated)


async def _patient_sums(conn, tenant_id: str, start: date, end: date):
    """Patient payments and bad debt in the period, and the patient A/R at its end: one pass over the ledger."""
    le = ledger_entries.c
    in_period = sa.and_(le.posted_at >= start_of_day(start), le.posted_at < end_of_day(end))
    return (await conn.execute(sa.select(
        sa.func.coalesce(-sa.func.sum(le.amount).filter(in_period, le.entry_kind.in_(PATIENT_PAYMENT_KINDS)), ZERO),
        sa.func.coalesce(-sa.func.sum(le.amount).filter(in_period, le.entry_kind.in_(BAD_DEBT_KINDS)), ZERO),
        sa.func.coalesce(sa.func.sum(le.amount), ZERO))
        .where(le.tenant_id == tenant_id, le.posted_at < end_of_day(end)))).one()


async def _denial_write_offs(conn, tenant_id: str, start: date, end: date) -> Decimal:
    m = receivable_movements.c
    return (await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(m.other_adjustment), ZERO)).where(
        m.tenant_id == tenant_id, m.movement_kind.in_(DENIAL_WRITE_OFF_KINDS),
        _in_period(m.occurred_on, start, end)))).scalar_one()


async def period_figures(conn, tenant_id: str, start: date, end: date) -> PeriodFigures:
    """The period's sums: the daily totals of the movements, the claims' first billing and first
    adjudication (indexed by date), the ledger, and the insurance A/R at the period's end."""
    billed, contractual, paid, denied, denied_claims, adjudicated_claims, adjudicated_charges = await _daily_sums(
        conn, tenant_id, start, end)
    first_billed, clean, first_adjudicated, first_pass = await _claim_counts(conn, tenant_id, start, end)
    patient_paid, bad_debt, patient_ar = await _patient_sums(conn, tenant_id, start, end)
    insurance_ar = await insurance_total(conn, tenant_id, end)
    return PeriodFigures(
        charges=billed, contractual=contractual, insurance_paid=paid, patient_paid=patient_paid, bad_debt=bad_debt,
        denied_dollars=denied, denied_claims=denied_claims,
        denial_write_offs=await _denial_write_offs(conn, tenant_id, start, end), adjudicated_claims=adjudicated_claims,
        adjudicated_charges=adjudicated_charges, first_billed_claims=first_billed, clean_claims=clean,
        first_adjudicated_claims=first_adjudicated, first_pass_resolved=first_pass,
        ending_ar=insurance_ar + patient_ar, days=(end - start).days + 1)


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
        Kpi("denial_write_off_rate", "Denial write-offs", _ratio(f.denial_write_offs, net_revenue, PERCENT), "percent",
            f.denial_write_offs, net_revenue,
            "Denied dollars written off in the period (denial write-offs, apart from bad debt) / (charges billed in "
            "the period minus contractual adjustments)", "Denial Write-Offs as a Percentage of Net Patient Service "
            "Revenue"),
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
    d, le = receivable_daily_totals.c, ledger_entries.c
    month = sa.func.to_char(d.occurred_on, "YYYY-MM")
    insurance = {row[0]: row[1:] for row in (await conn.execute(sa.select(
        month, sa.func.sum(d.paid), sa.func.sum(d.denied), sa.func.sum(d.denied_claims))
        .where(d.tenant_id == tenant_id, _in_period(d.occurred_on, start, end)).group_by(month))).all()}
    posted_month = sa.func.to_char(sa.func.timezone("UTC", le.posted_at), "YYYY-MM")
    patient = dict((await conn.execute(sa.select(posted_month, -sa.func.sum(le.amount)).where(
        le.tenant_id == tenant_id, le.entry_kind.in_(PATIENT_PAYMENT_KINDS),
        le.posted_at >= start_of_day(start), le.posted_at < end_of_day(end)).group_by(posted_month))).all())
    trend = []
    for label in _months(start, end):
        paid, denied, denied_claims = insurance.get(label, (ZERO, ZERO, 0))
        trend.append(MonthTrend(label, paid, patient.get(label, ZERO), denied, int(denied_claims)))
    return trend


def _months(start: date, end: date) -> list[str]:
    labels, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels
