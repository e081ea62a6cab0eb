"""Denial reports: the summary (rates by payer, category and provider, overturns, days to resolve, dollars at risk)
and the trends (payer x procedure x category over 7 and 30 days against the 90-day baseline)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from openrcm_denials.adapters.appeal_tables import claim_facts
from openrcm_denials.adapters.tables import (
    UNRESOLVED_SQL, adjudication_buckets, claim_adjudications, denial_buckets, denial_cases, trend_episodes,
)
from openrcm_denials.domain.categories import Category
from openrcm_denials.domain.trends import BASELINE_DAYS, MONTH_DAYS, baseline_window, rate, reading, recent_window
from openrcm_shared.audit import audited
from openrcm_shared.db import snapshot
from openrcm_shared.documents.tabular import ExportFormat, export_response, export_responses_doc
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.money import Money
from openrcm_shared.security.practice import DenialsWork

router = APIRouter(prefix="/v1", tags=["denials"])
ZERO = Decimal("0.00")
# Deadline windows for dollars at risk: (label, first day left, last day left).
RISK_WINDOWS = (("past_due", None, -1), ("0-7_days", 0, 7), ("8-30_days", 8, 30), ("31-60_days", 31, 60),
                ("61+_days", 61, None))


class RateRow(BaseModel):
    key: str
    denied_cases: int
    denied_amount: Money
    adjudicated_claims: int | None = None
    charged_amount: Money | None = None
    denial_rate: Decimal | None = None  # denied cases / claims adjudicated
    dollar_denial_rate: Decimal | None = None  # denied dollars / dollars charged


class OverturnOut(BaseModel):
    won: int
    partially_won: int
    lost: int
    overturn_rate: Decimal | None  # (won + partially_won) / decided
    amount_recovered: Money


class RiskRow(BaseModel):
    window: str
    cases: int
    amount: Money


class SummaryOut(BaseModel):
    opened_from: date
    opened_to: date
    by_payer: list[RateRow]
    by_category: list[RateRow]
    # Keyed by the claim's rendering NPI, else its billing NPI; "unknown" for claims whose
    # ClaimSubmitted has not reached the denials service.
    by_provider: list[RateRow] = []
    overturns: OverturnOut
    average_days_to_resolve: Decimal | None
    at_risk_by_deadline: list[RiskRow]


def _ratio(part, whole) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None


def _period(opened_from: date | None, opened_to: date | None) -> tuple[date, date]:
    end = opened_to or datetime.now(timezone.utc).date()
    # Clamped at the calendar's first day: opened_to=0001-01-01 is a (useless) period, not an error.
    start = opened_from or max(date.min, end - timedelta(days=min(BASELINE_DAYS - 1, (end - date.min).days)))
    if start > end:
        raise Problem(422, "Invalid period", type_="validation-error",
                      errors=[field_error("/query/opened_from", "after opened_to")])
    return start, end


async def _rates_by(conn, tenant_id: str, start: date, end: date, case_key, claim_key, *,
                    cases_from=denial_cases, claims_from=claim_adjudications) -> list[RateRow]:
    """Denied cases opened in the period and claims adjudicated in it, grouped by `case_key` and
    `claim_key` (the same grouping, e.g. the payer), as rates."""
    in_period = sa.and_(denial_cases.c.tenant_id == tenant_id, sa.func.date(denial_cases.c.opened_at).between(start, end))
    denied = {row.key: row for row in (await conn.execute(
        sa.select(case_key.label("key"), sa.func.count().label("cases"),
                  sa.func.sum(denial_cases.c.recoverable_amount).label("amount"))
        .select_from(cases_from).where(in_period).group_by(case_key))).all()}
    adjudicated = {row.key: row for row in (await conn.execute(
        sa.select(claim_key.label("key"), sa.func.count().label("claims"),
                  sa.func.sum(claim_adjudications.c.charge_amount).label("charged"))
        .select_from(claims_from)
        .where(claim_adjudications.c.tenant_id == tenant_id,
               claim_adjudications.c.adjudicated_on.between(start, end))
        .group_by(claim_key))).all()}
    rows = []
    for key in sorted(set(denied) | set(adjudicated)):
        cases = denied[key].cases if key in denied else 0
        amount = denied[key].amount if key in denied else ZERO
        claims = adjudicated[key].claims if key in adjudicated else 0
        charged = adjudicated[key].charged if key in adjudicated else ZERO
        rows.append(RateRow(key=key, denied_cases=cases, denied_amount=amount, adjudicated_claims=claims,
                            charged_amount=charged, denial_rate=_ratio(cases, claims),
                            dollar_denial_rate=_ratio(amount, charged)))
    return rows


async def _by_payer(conn, tenant_id: str, start: date, end: date) -> list[RateRow]:
    return await _rates_by(conn, tenant_id, start, end, denial_cases.c.payer_id, claim_adjudications.c.payer_id)


def _provider_of(table) -> tuple:
    """The provider of `table`'s claim (rendering NPI, else billing NPI) and the outer join that finds it."""
    provider = sa.func.coalesce(claim_facts.c.rendering_provider_npi, claim_facts.c.billing_provider_npi, "unknown")
    return provider, sa.and_(claim_facts.c.claim_id == table.c.claim_id, claim_facts.c.tenant_id == table.c.tenant_id)


async def _by_provider(conn, tenant_id: str, start: date, end: date) -> list[RateRow]:
    """Denial rate by the provider the claim belongs to, from the facts ClaimSubmitted gave."""
    case_provider, case_join = _provider_of(denial_cases)
    claim_provider, claim_join = _provider_of(claim_adjudications)
    return await _rates_by(conn, tenant_id, start, end, case_provider, claim_provider,
                           cases_from=denial_cases.outerjoin(claim_facts, case_join),
                           claims_from=claim_adjudications.outerjoin(claim_facts, claim_join))


async def _by_category(conn, tenant_id: str, start: date, end: date) -> list[RateRow]:
    totals = (await conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(claim_adjudications.c.charge_amount), 0))
                                 .where(claim_adjudications.c.tenant_id == tenant_id,
                                        claim_adjudications.c.adjudicated_on.between(start, end)))).one()
    rows = (await conn.execute(
        sa.select(denial_cases.c.category, sa.func.count().label("cases"),
                  sa.func.sum(denial_cases.c.recoverable_amount).label("amount"))
        .where(denial_cases.c.tenant_id == tenant_id, sa.func.date(denial_cases.c.opened_at).between(start, end))
        .group_by(denial_cases.c.category).order_by(sa.desc("amount")))).all()
    return [RateRow(key=row.category or Category.OTHER, denied_cases=row.cases, denied_amount=row.amount,
                    adjudicated_claims=totals[0], charged_amount=totals[1], denial_rate=_ratio(row.cases, totals[0]),
                    dollar_denial_rate=_ratio(row.amount, totals[1])) for row in rows]


async def _overturns(conn, tenant_id: str, start: date, end: date) -> tuple[OverturnOut, Decimal | None]:
    status = denial_cases.c.status
    row = (await conn.execute(sa.select(
        sa.func.count().filter(status == "won"), sa.func.count().filter(status == "partially_won"),
        sa.func.count().filter(status == "lost"),
        sa.func.coalesce(sa.func.sum(denial_cases.c.amount_recovered), 0),
        sa.func.avg(sa.extract("epoch", denial_cases.c.resolved_at - denial_cases.c.opened_at) / 86400),
    ).where(denial_cases.c.tenant_id == tenant_id, denial_cases.c.resolved_at.is_not(None),
            sa.func.date(denial_cases.c.opened_at).between(start, end)))).one()
    won, partial, lost, recovered, days = row
    overturns = OverturnOut(won=won, partially_won=partial, lost=lost,
                            overturn_rate=_ratio(won + partial, won + partial + lost), amount_recovered=recovered)
    return overturns, None if days is None else Decimal(days).quantize(Decimal("0.1"))


async def _at_risk(conn, tenant_id: str, today: date) -> list[RiskRow]:
    days_left = denial_cases.c.work_deadline - sa.literal(today, sa.Date)
    rows = []
    for label, first, last in RISK_WINDOWS:
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(denial_cases.c.recoverable_amount), 0)).where(
            denial_cases.c.tenant_id == tenant_id, sa.text(UNRESOLVED_SQL))
        if first is not None:
            query = query.where(days_left >= first)
        if last is not None:
            query = query.where(days_left <= last)
        count, amount = (await conn.execute(query)).one()
        rows.append(RiskRow(window=label, cases=count, amount=amount))
    return rows


@router.get("/denials/summary", response_model=SummaryOut,
            responses={**export_responses_doc(), 422: {"description": "An invalid period or format"}})
@audited("report", "denial_summary")
async def denial_summary(request: Request, tenant_id: DenialsWork, opened_from: date | None = None,
                         opened_to: date | None = None, format: ExportFormat = ExportFormat.JSON) -> SummaryOut | Response:
    """Denial rate by payer, by category and by provider (the claim's rendering NPI, else its billing
    NPI) (cases and dollars; rates against the claims adjudicated in the period), overturns and dollars recovered, average days to resolve (cases opened in the period,
    default the last 90 days), and the unresolved dollars at risk by days left to their deadline."""
    start, end = _period(opened_from, opened_to)
    async with snapshot(request.app.state.runtime.engine) as conn:
        overturns, days = await _overturns(conn, tenant_id, start, end)
        summary = SummaryOut(opened_from=start, opened_to=end, by_payer=await _by_payer(conn, tenant_id, start, end),
                             by_category=await _by_category(conn, tenant_id, start, end),
                             by_provider=await _by_provider(conn, tenant_id, start, end), overturns=overturns,
                             average_days_to_resolve=days,
                             at_risk_by_deadline=await _at_risk(conn, tenant_id, datetime.now(timezone.utc).date()))
    if format is ExportFormat.JSON:
        return summary
    return export_response(format, "denials-summary", _SUMMARY_COLUMNS, _summary_rows(summary))


_SUMMARY_COLUMNS = ["section", "key", "cases", "amount", "adjudicated_claims", "charged_amount", "rate", "dollar_rate"]


def _summary_rows(summary: SummaryOut) -> list[list]:
    rows = [["payer", r.key, r.denied_cases, r.denied_amount, r.adjudicated_claims, r.charged_amount, r.denial_rate,
             r.dollar_denial_rate] for r in summary.by_payer]
    rows += [["category", r.key, r.denied_cases, r.denied_amount, r.adjudicated_claims, r.charged_amount,
              r.denial_rate, r.dollar_denial_rate] for r in summary.by_category]
    rows += [["provider", r.key, r.denied_cases, r.denied_amount, r.adjudicated_claims, r.charged_amount,
              r.denial_rate, r.dollar_denial_rate] for r in summary.by_provider]
    o = summary.overturns
    rows.append(["overturns", "won+partially_won/decided", o.won + o.partially_won + o.lost, o.amount_recovered,
                 None, None, o.overturn_rate, None])
    rows.append(["resolution", "average_days_to_resolve", None, None, None, None, summary.average_days_to_resolve, None])
    rows += [["at_risk", r.window, r.cases, r.amount, None, None, None, None] for r in summary.at_risk_by_deadline]
    return rows


class TrendOut(BaseModel):
    payer_id: str
    procedure_code: str | None
    category: Category
    denials_7d: int
    adjudicated_7d: int
    rate_7d: Decimal
    denials_30d: int
    adjudicated_30d: int
    rate_30d: Decimal
    baseline_denials_90d: int
    baseline_adjudicated_90d: int
    baseline_rate_90d: Decimal
    ratio_7d: Decimal | None  # rate_7d over the baseline rate (floored, domain.trends)
    spike: bool
    episode_detected_on: date | None  # the open episode, when the key is in one


class TrendsOut(BaseModel):
    as_of: date
    items: list[TrendOut]


def _summed(table, start: date, end: date):
    return sa.func.coalesce(sa.func.sum(table.c.lines).filter(table.c.day.between(start, end)), 0)


@router.get("/denials/trends", response_model=TrendsOut,
            responses={422: {"description": "An unknown category or a malformed filter"}})
async def denial_trends(request: Request, tenant_id: DenialsWork, payer_id: str | None = None,
                        category: Category | None = None, spikes_only: bool = False,
                        limit: Annotated[int, Query(ge=1, le=500)] = 100) -> TrendsOut:
    """Denial counts and rates by payer x procedure x category over the last 7 and 30 days against the 90
    days before the last 7, the keys with denials in the last 30 days, highest 7-day ratio first."""
    today = datetime.now(timezone.utc).date()
    recent, month, baseline = recent_window(today), recent_window(today, MONTH_DAYS), baseline_window(today)
    denials = sa.select(
        denial_buckets.c.payer_id, denial_buckets.c.procedure_code, denial_buckets.c.category,
        _summed(denial_buckets, recent.first_day, recent.last_day).label("d7"),
        _summed(denial_buckets, month.first_day, month.last_day).label("d30"),
        _summed(denial_buckets, baseline.first_day, baseline.last_day).label("d90"),
    ).where(denial_buckets.c.tenant_id == tenant_id, denial_buckets.c.day >= min(month.first_day, baseline.first_day))
    if payer_id is not None:
        denials = denials.where(denial_buckets.c.payer_id == payer_id)
    if category is not None:
        denials = denials.where(denial_buckets.c.category == category.value)
    denials = denials.group_by(denial_buckets.c.payer_id, denial_buckets.c.procedure_code, denial_buckets.c.category)
    async with snapshot(request.app.state.runtime.engine) as conn:
        rows = [row for row in (await conn.execute(denials)).all() if row.d30 > 0]
        adjudicated = {(r.payer_id, r.procedure_code): r for r in (await conn.execute(sa.select(
            adjudication_buckets.c.payer_id, adjudication_buckets.c.procedure_code,
            _summed(adjudication_buckets, recent.first_day, recent.last_day).label("a7"),
            _summed(adjudication_buckets, month.first_day, month.last_day).label("a30"),
            _summed(adjudication_buckets, baseline.first_day, baseline.last_day).label("a90"),
        ).where(adjudication_buckets.c.tenant_id == tenant_id,
                adjudication_buckets.c.day >= baseline.first_day)
            .group_by(adjudication_buckets.c.payer_id, adjudication_buckets.c.procedure_code))).all()}
        episodes = {(e.payer_id, e.procedure_code, e.category): e.detected_on for e in (await conn.execute(
            sa.select(trend_episodes.c.payer_id, trend_episodes.c.procedure_code, trend_episodes.c.category,
                      trend_episodes.c.detected_on).where(trend_episodes.c.tenant_id == tenant_id,
                                                          trend_episodes.c.ended_on.is_(None)))).all()}
    items = [_trend(row, adjudicated.get((row.payer_id, row.procedure_code)), episodes) for row in rows]
    items = [item for item in items if item.spike or item.episode_detected_on or not spikes_only]
    items.sort(key=lambda item: (item.ratio_7d or Decimal(0), item.denials_7d), reverse=True)
    return TrendsOut(as_of=today, items=items[:limit])


def _trend(row, adjudicated, episodes) -> TrendOut:
    a7, a30, a90 = (adjudicated.a7, adjudicated.a30, adjudicated.a90) if adjudicated else (0, 0, 0)
    now = reading(row.d7, a7, row.d90, a90)
    return TrendOut(payer_id=row.payer_id, procedure_code=row.procedure_code or None, category=row.category,
                    denials_7d=row.d7, adjudicated_7d=max(a7, row.d7), rate_7d=now.rate_7d, denials_30d=row.d30,
                    adjudicated_30d=max(a30, row.d30), rate_30d=rate(row.d30, a30), baseline_denials_90d=row.d90,
                    baseline_adjudicated_90d=max(a90, row.d90), baseline_rate_90d=now.baseline_rate,
                    ratio_7d=now.ratio, spike=now.is_spike,
                    episode_detected_on=episodes.get((row.payer_id, row.procedure_code, row.category)))
