"""Statements: runs per practice, each statement as JSON and PDF, the print-vendor and agency files."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from openrcm_collections.adapters.tables import statement_runs, statements
from openrcm_collections.entrypoints.schemas import StatementOut, StatementRunIn, StatementRunOut
from openrcm_collections.service_layer.statements import run_statements
from openrcm_collections.settings import CollectionsSettings
from openrcm_shared.audit import audited
from openrcm_shared.audit.recording import record_change
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.problems import Problem
from openrcm_shared.security.practice import CollectionsWork

router = APIRouter(prefix="/v1", tags=["statements"])
_STATEMENT_COLUMNS = [statements.c[name] for name in StatementOut.model_fields]
_NOT_FOUND = {404: {"description": "No such statement"}}


@router.post("/statement-runs", status_code=201, response_model=StatementRunOut)
@audited("create", "statement_run", resource_id="id")
async def post_statement_run(body: StatementRunIn, request: Request, tenant_id: CollectionsWork) -> StatementRunOut:
    """Run the practice's statement cycle as of a day (each account every COLLECTIONS_STATEMENT_CYCLE_DAYS)."""
    async with request.app.state.runtime.engine.begin() as conn:
        run = StatementRunOut(**await run_statements(conn, tenant_id, body.as_of, CollectionsSettings()))
        await record_change(conn, resource=run)
    request.app.state.runtime.events_staged()
    return run


@router.get("/statement-runs/{run_id}/batch-file", response_class=Response,
            responses={200: {"content": {"application/x-ndjson": {}}}, 404: {"description": "No such run"}})
@audited("read", "statement_run", resource_id="run_id")
async def get_batch_file(run_id: UUID, request: Request, tenant_id: CollectionsWork) -> Response:
    """The print vendor's batch file of the run: one JSON line per statement."""
    content = await _run_file(request, tenant_id, run_id, statement_runs.c.batch_file)
    return Response(content, media_type="application/x-ndjson")


@router.get("/statement-runs/{run_id}/agency-file", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, 404: {"description": "No such run, or no placement in it"}})
@audited("read", "statement_run", resource_id="run_id")
async def get_agency_file(run_id: UUID, request: Request, tenant_id: CollectionsWork) -> Response:
    """The accounts the run placed with the collection agency (CSV)."""
    content = await _run_file(request, tenant_id, run_id, statement_runs.c.agency_file)
    return Response(content, media_type="text/csv; charset=utf-8")


@router.get("/accounts/{patient_id}/statements", response_model=Page[StatementOut])
@audited("list", "statement", patient_id="patient_id")
async def list_statements(patient_id: str, request: Request, tenant_id: CollectionsWork, cursor: str | None = None,
                          limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Page[StatementOut]:
    query = sa.select(*_STATEMENT_COLUMNS).where(statements.c.tenant_id == tenant_id,
                                                 statements.c.patient_id == patient_id)
    async with request.app.state.runtime.engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[statements.c.statement_on, statements.c.id],
                                             cursor=cursor, limit=limit)
    return Page[StatementOut](items=[StatementOut(**row._mapping) for row in rows], next_cursor=next_cursor)


@router.get("/statements/{statement_id}", response_model=StatementOut, responses=_NOT_FOUND)
@audited("read", "statement", resource_id="id", patient_id="patient_id")
async def get_statement(statement_id: UUID, request: Request, tenant_id: CollectionsWork) -> StatementOut:
    async with request.app.state.runtime.engine.connect() as conn:
        row = (await conn.execute(sa.select(*_STATEMENT_COLUMNS).where(
            statements.c.tenant_id == tenant_id, statements.c.id == statement_id))).first()
    if row is None:
        raise Problem(404, "No such statement", type_="not-found")
    return StatementOut(**row._mapping)


@router.get("/statements/{statement_id}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}, **_NOT_FOUND})
@audited("read", "statement", resource_id="statement_id")
async def get_statement_pdf(statement_id: UUID, request: Request, tenant_id: CollectionsWork) -> Response:
    async with request.app.state.runtime.engine.connect() as conn:
        pdf = (await conn.execute(sa.select(statements.c.pdf).where(
            statements.c.tenant_id == tenant_id, statements.c.id == statement_id))).scalar()
    if pdf is None:
        raise Problem(404, "No such statement", type_="not-found")
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="statement-{statement_id}.pdf"'})


async def _run_file(request: Request, tenant_id: str, run_id: UUID, column) -> bytes:
    async with request.app.state.runtime.engine.connect() as conn:
        content = (await conn.execute(sa.select(column).where(statement_runs.c.tenant_id == tenant_id,
                                                              statement_runs.c.id == run_id))).scalar()
    if content is None:
        raise Problem(404, "No such file", "no such run, or nothing of this kind in it", type_="not-found")
    return content
