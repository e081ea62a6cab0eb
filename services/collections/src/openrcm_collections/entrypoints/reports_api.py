"""The A/R reports: aging as of any date and the KPI set over a period, as JSON, CSV, XLSX or a PNG chart."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from openrcm_collections.receivables import charts
from openrcm_collections.receivables.aging import (
    BUCKET_NAMES, AgingBasis, AgingGroup, AgingRow, PatientCursor, PatientSort, aging, patient_page, totals,
)
from openrcm_collections.receivables.kpis import kpis, monthly_trend, period_figures
from openrcm_shared.http.bounds import BusinessDate
from openrcm_shared.audit import audited
from openrcm_shared.db import snapshot
from openrcm_shared.documents.tabular import XLSX_MEDIA_TYPE, ExportFormat, export_response, rows_to_xlsx
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.money import Money
from openrcm_shared.security.practice import CollectionsWork

router = APIRouter(prefix="/v1/reports", tags=["reports"])
# A KPI period longer than this is refused (the figures are for managing a practice, not archives).
MAX_PERIOD_DAYS = 366 * 3


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PNG = "png"


_FORMATS_DOC = {200: {"description": "The report as JSON, or as CSV, XLSX or a PNG chart when `format` asks",
                      "content": {"text/csv": {"schema": {"type": "string"}},
                                  XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                                  charts.PNG_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
                422: {"description": "A parameter is malformed or out of range (the problem names it)"}}


class AgingRowOut(BaseModel):
    group: str
    receivable: str
    buckets: dict[str, Money]
    total: Money


class AgingOut(BaseModel):
    as_of: date
    basis: AgingBasis
    group_by: AgingGroup
    buckets: list[str]
    rows: list[AgingRowOut]
    totals: dict[str, dict[str, Money]]
    # By patient, one page of patients: pass it back as `cursor` for the next (none on the last page).
    next_cursor: str | None = None


# By patient: the most patients on one page.
MAX_PATIENTS_PER_PAGE = 1000
_AGING_DOC = {**_FORMATS_DOC, 400: {"description": "A `cursor` this report did not issue (the problem names it)"}}


def _png(body: bytes, filename: str) -> Response:
    return Response(body, media_type=charts.PNG_MEDIA_TYPE,
                    headers={"Content-Disposition": f'inline; filename="{filename}.png"'})


@router.get("/ar-aging", response_model=AgingOut, responses=_AGING_DOC)
@audited("read", "ar_aging_report")
async def ar_aging(request: Request, response: Response, tenant_id: CollectionsWork,
                   as_of: Annotated[BusinessDate | None, Query(description="The day the A/R is as of (end of day, UTC); "
                                                                   "today when absent")] = None,
                   basis: AgingBasis = AgingBasis.SERVICE_DATE, group_by: AgingGroup = AgingGroup.PAYER,
                   format: ReportFormat = ReportFormat.JSON,
                   sort: Annotated[PatientSort, Query(description="By patient: `balance` (largest first) or "
                                                                  "`oldest_bucket` (oldest first, then balance)")]
                   = PatientSort.BALANCE,
                   limit: Annotated[int, Query(ge=1, le=MAX_PATIENTS_PER_PAGE,
                                               description="By patient: patients per page")] = 100,
                   cursor: Annotated[str | None, Query(max_length=1024,
                                                       description="By patient: `next_cursor` of the previous "
                                                                   "page")] = None):
    """Insurance and patient A/R as of a day, in age buckets, by payer, financial class, provider or
    patient (by patient a page of patients with a balance; `totals` are always the whole A/R)."""
    as_of = as_of or date.today()
    next_cursor = None
    async with snapshot(request.app.state.runtime.engine) as conn:
        if group_by is AgingGroup.PATIENT:
            page = await patient_page(conn, tenant_id, as_of, basis, sort, limit, PatientCursor.decode(cursor))
            rows, next_cursor = page.rows, page.next_cursor and page.next_cursor.encode()
            whole: list[AgingRow] = await aging(conn, tenant_id, as_of, basis, AgingGroup.PAYER)
        else:
            rows = whole = await aging(conn, tenant_id, as_of, basis, group_by)
    answer = await _aging_answer(rows, whole, as_of, basis, group_by, format, next_cursor)
    if next_cursor:  # RFC 8288: the next page, for the spreadsheet and chart forms too
        (answer if isinstance(answer, Response) else response).headers["Link"] = (
            f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"')
    return answer


async def _aging_answer(rows: list[AgingRow], whole: list[AgingRow], as_of: date, basis: AgingBasis,
                        group_by: AgingGroup, format: ReportFormat, next_cursor: str | None) -> Response | AgingOut:
    filename = f"ar-aging-{as_of.isoformat()}"
    if format is ReportFormat.PNG:
        return _png(await run_in_threadpool(charts.aging_chart, rows, f"A/R aging as of {as_of.isoformat()}"),
                    filename)
    if format in (ReportFormat.CSV, ReportFormat.XLSX):
        columns = ["group", "receivable", *BUCKET_NAMES, "total"]
        table = [[row.group, row.receivable, *(row.buckets[name] for name in BUCKET_NAMES), row.total]
                 for row in rows]
        return export_response(ExportFormat(format.value), filename, columns, table)
    return AgingOut(as_of=as_of, basis=basis, group_by=group_by, buckets=list(BUCKET_NAMES),
                    rows=[AgingRowOut(group=row.group, receivable=row.receivable, buckets=row.buckets,
                                      total=row.total) for row in rows],
                    totals={"insurance": totals(whole, "insurance"), "patient": totals(whole, "patient"),
                            "all": totals(whole)},
                    next_cursor=next_cursor)


class KpiOut(BaseModel):
    key: str
    name: str
    value: str | None
    unit: str
    numerator: str
    denominator: str
    definition: str
    hfma_map_key: str | None


class MonthOut(BaseModel):
    month: str
    insurance_collections: Money
    patient_collections: Money
    denied_dollars: Money
    denied_claims: int


class KpisOut(BaseModel):
    period_from: date
    period_to: date
    kpis: list[KpiOut]
    monthly: list[MonthOut]


def _checked_period(start: date, end: date) -> None:
    if end < start:
        raise Problem(422, "The period ends before it starts", type_="invalid-period",
                      errors=[field_error("/query/to", "must be on or after `from`")])
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise Problem(422, "The period is too long", type_="invalid-period",
                      errors=[field_error("/query/to", f"at most {MAX_PERIOD_DAYS} days after `from`")])


@router.get("/kpis", response_model=KpisOut, responses=_FORMATS_DOC)
async def revenue_cycle_kpis(request: Request, tenant_id: CollectionsWork,
                             period_from: Annotated[BusinessDate, Query(alias="from", description="First day (UTC)")],
                             period_to: Annotated[BusinessDate, Query(alias="to",
                                                                      description="Last day (UTC), inclusive")],
                             format: ReportFormat = ReportFormat.JSON):
    """Days in A/R, clean claim rate, first-pass resolution, denial rates, collection rates and bad
    debt over a period, each with its definition; `monthly` is the trend of collections and denials."""
    _checked_period(period_from, period_to)
    async with snapshot(request.app.state.runtime.engine) as conn:
        figures = await period_figures(conn, tenant_id, period_from, period_to)
        trend = await monthly_trend(conn, tenant_id, period_from, period_to)
    measured = kpis(figures)
    filename = f"kpis-{period_from.isoformat()}-{period_to.isoformat()}"
    if format is ReportFormat.PNG:
        title = f"Collections and denials, {period_from.isoformat()} to {period_to.isoformat()}"
        return _png(await run_in_threadpool(charts.trend_chart, trend, title), filename)
    kpi_columns = ["key", "name", "value", "unit", "numerator", "denominator", "definition", "hfma_map_key"]
    kpi_rows = [[k.key, k.name, k.value, k.unit, k.numerator, k.denominator, k.definition, k.hfma_map_key]
                for k in measured]
    month_columns = ["month", "insurance_collections", "patient_collections", "denied_dollars", "denied_claims"]
    month_rows = [[m.month, m.insurance_collections, m.patient_collections, m.denied_dollars, m.denied_claims]
                  for m in trend]
    if format is ReportFormat.CSV:
        return export_response(ExportFormat.CSV, filename, kpi_columns, kpi_rows)
    if format is ReportFormat.XLSX:
        body = rows_to_xlsx([("KPIs", kpi_columns, kpi_rows), ("Monthly", month_columns, month_rows)])
        return Response(body, media_type=XLSX_MEDIA_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})
    return KpisOut(period_from=period_from, period_to=period_to,
                   kpis=[KpiOut(key=k.key, name=k.name, value=None if k.value is None else str(k.value), unit=k.unit,
                                numerator=str(k.numerator), denominator=str(k.denominator),
                                definition=k.definition, hfma_map_key=k.hfma_map_key) for k in measured],
                   monthly=[MonthOut(**vars(m)) for m in trend])
