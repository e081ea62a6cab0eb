"""The eligibility API."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from openrcm_eligibility.adapters.tables import eligibility_checks
from openrcm_eligibility.entrypoints.schemas import EligibilityCheckIn, EligibilityCheckOut
from openrcm_eligibility.service_layer.checks import record_check
from openrcm_shared.audit import audited
from openrcm_shared.http.idempotency import idempotent_create
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.openapi_docs import BODY_PROBLEMS, problem_responses
from openrcm_shared.http.resources import get_or_404
from openrcm_shared.security.practice import EligibilityRead, EligibilityWrite

router = APIRouter(prefix="/v1", tags=["eligibility"])
_COLUMNS = [eligibility_checks.c[name] for name in EligibilityCheckOut.model_fields]


@router.post("/eligibility-checks", status_code=201, response_model=EligibilityCheckOut,
             responses={**BODY_PROBLEMS, **problem_responses(409)})
@audited("create", "eligibility_check", resource_id="id", patient_id="patient_id")
async def post_eligibility_check(check: EligibilityCheckIn, request: Request, tenant_id: EligibilityWrite,
                                 idempotency_key: Annotated[str | None, Header()] = None) -> Response:
    """Store a coverage answer and publish EligibilityChecked (claims records it on open claims)."""
    return await idempotent_create(
        request, tenant_id=tenant_id, idempotency_key=idempotency_key,
        create=lambda conn: record_check(conn, tenant_id, check),
        location=lambda stored: f"/v1/eligibility-checks/{stored.id}", response_model=EligibilityCheckOut)


@router.get("/eligibility-checks/{check_id}", response_model=EligibilityCheckOut, responses=problem_responses(404))
@audited("read", "eligibility_check", resource_id="check_id", patient_id="patient_id")
async def get_eligibility_check(check_id: UUID, request: Request, tenant_id: EligibilityRead) -> EligibilityCheckOut:
    return await get_or_404(request, EligibilityCheckOut, eligibility_checks, tenant_id,
                            title="Eligibility check not found", id=check_id)


@router.get("/eligibility-checks", response_model=Page[EligibilityCheckOut])
@audited("list", "eligibility_check", patient_id="patient_id")
async def list_eligibility_checks(request: Request, tenant_id: EligibilityRead, patient_id: str | None = None,
                                  cursor: str | None = None,
                                  limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[EligibilityCheckOut]:
    """Newest first, optionally for one patient."""
    query = sa.select(*_COLUMNS).where(eligibility_checks.c.tenant_id == tenant_id)
    if patient_id:
        query = query.where(eligibility_checks.c.patient_id == patient_id)
    async with request.app.state.runtime.engine.connect() as conn:
        rows, next_cursor = await fetch_page(
            conn, query, order_by=[eligibility_checks.c.checked_at, eligibility_checks.c.id], cursor=cursor,
            limit=limit)
    items = [EligibilityCheckOut(**row._mapping) for row in rows]
    return Page[EligibilityCheckOut](items=items, next_cursor=next_cursor)
