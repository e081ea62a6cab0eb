"""The denials API: the worklist, highest dollar first."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from openrcm_denials.adapters.tables import denial_cases
from openrcm_shared.audit import audited
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.openapi_docs import problem_responses
from openrcm_shared.http.resources import get_or_404
from openrcm_shared.money import Money
from openrcm_shared.security.practice import DenialsWork

router = APIRouter(prefix="/v1", tags=["denials"])


class DeniedItemOut(BaseModel):
    line_number: int | None
    group_code: str
    carc: str
    rarcs: list[str]
    amount: Money


class DenialCaseOut(BaseModel):
    id: UUID
    claim_id: UUID
    remittance_id: UUID
    patient_control_number: str
    payer_id: str
    status: str
    denied_amount: Money
    primary_group_code: str
    primary_carc: str
    denials: list[DeniedItemOut]
    appeal_deadline: date
    opened_at: datetime


_COLUMNS = [denial_cases.c[name] for name in DenialCaseOut.model_fields]


@router.get("/denials", response_model=Page[DenialCaseOut])
@audited("list", "denial_case")
async def denial_worklist(request: Request, tenant_id: DenialsWork, status: Literal["open", "closed_payer_reversed"] | None = "open",
                          payer_id: str | None = None, carc: str | None = None, cursor: str | None = None,
                          limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[DenialCaseOut]:
    """Denial cases, highest denied amount first, filterable by payer and primary CARC."""
    query = sa.select(*_COLUMNS).where(denial_cases.c.tenant_id == tenant_id)
    if status:
        query = query.where(denial_cases.c.status == status)
    if payer_id:
        query = query.where(denial_cases.c.payer_id == payer_id)
    if carc:
        query = query.where(denial_cases.c.primary_carc == carc)
    async with request.app.state.runtime.engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[denial_cases.c.denied_amount, denial_cases.c.id],
                                             cursor=cursor, limit=limit)
    return Page[DenialCaseOut](items=[DenialCaseOut(**row._mapping) for row in rows], next_cursor=next_cursor)


@router.get("/denials/{case_id}", response_model=DenialCaseOut, responses=problem_responses(404))
@audited("read", "denial_case", resource_id="case_id")
async def get_denial_case(case_id: UUID, request: Request, tenant_id: DenialsWork) -> DenialCaseOut:
    return await get_or_404(request, DenialCaseOut, denial_cases, tenant_id, title="Denial case not found",
                            id=case_id)
