"""Adjustments and write-offs, with a second person's approval above the threshold."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from openrcm_collections.adapters.tables import account_adjustments
from openrcm_collections.entrypoints.schemas import AdjustmentIn, AdjustmentOut
from openrcm_collections.service_layer.adjustments import decide_adjustment, request_adjustment, reverse_adjustment
from openrcm_collections.settings import CollectionsSettings
from openrcm_shared.audit import audited
from openrcm_shared.audit.recording import record_change
from openrcm_shared.http.idempotency import IDEMPOTENCY_HEADER, idempotent_create
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.security.authorization import caller_requiring
from openrcm_shared.security.practice import CollectionsWork
from openrcm_shared.security.scopes import Scope

router = APIRouter(prefix="/v1", tags=["adjustments"])
PaymentsCaller = caller_requiring(Scope.PAYMENTS_WRITE)


@router.post("/accounts/{patient_id}/adjustments", status_code=201, response_model=AdjustmentOut,
             responses={422: {"description": "Invalid fields, more than the patient owes, charity without the "
                                             "financial-assistance flag, or Idempotency-Key reused"},
                        409: {"description": "Same Idempotency-Key in flight"}})
@audited("create", "adjustment", resource_id="id", patient_id="patient_id")
async def post_adjustment(patient_id: str, body: AdjustmentIn, request: Request, caller: PaymentsCaller,
                          idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER)) -> Response:
    """A write-off or discount: posted now up to COLLECTIONS_ADJUSTMENT_APPROVAL_THRESHOLD, else
    `pending_approval` until another person approves it."""
    if body.kind == "charity" and not body.financial_assistance:
        raise Problem(422, "The request has invalid fields", type_="validation-error", errors=[field_error(
            "/financial_assistance", "a charity write-off needs the patient's financial-assistance qualification")])
    threshold = CollectionsSettings().adjustment_approval_threshold

    async def create(conn) -> AdjustmentOut:
        return AdjustmentOut(**await request_adjustment(
            conn, caller.tenant_id, patient_id, kind=body.kind, reason_code=body.reason_code, amount=body.amount,
            claim_id=body.claim_id, financial_assistance=body.financial_assistance, note=body.note,
            actor=caller.actor, approval_threshold=threshold))
    return await idempotent_create(request, tenant_id=caller.tenant_id, idempotency_key=idempotency_key,
                                   create=create, response_model=AdjustmentOut,
                                   location=lambda a: f"/v1/accounts/{patient_id}/adjustments/{a.id}")


@router.get("/accounts/{patient_id}/adjustments", response_model=Page[AdjustmentOut])
@audited("list", "adjustment", patient_id="patient_id")
async def list_adjustments(patient_id: str, request: Request, tenant_id: CollectionsWork,
                           status: str | None = None, cursor: str | None = None,
                           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[AdjustmentOut]:
    query = sa.select(account_adjustments).where(account_adjustments.c.tenant_id == tenant_id,
                                                 account_adjustments.c.patient_id == patient_id)
    if status:
        query = query.where(account_adjustments.c.status == status)
    async with request.app.state.runtime.engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[account_adjustments.c.requested_at,
                                                                    account_adjustments.c.id],
                                             cursor=cursor, limit=limit)
    return Page[AdjustmentOut](items=[AdjustmentOut(**row._mapping) for row in rows], next_cursor=next_cursor)


_DECISION_RESPONSES = {403: {"description": "The requester cannot decide their own adjustment"},
                       404: {"description": "No such adjustment on this account"},
                       409: {"description": "Not waiting for approval (or not posted, to reverse)"}}


@router.post("/accounts/{patient_id}/adjustments/{adjustment_id}/approve", response_model=AdjustmentOut,
             responses=_DECISION_RESPONSES)
@audited("update", "adjustment", resource_id="id", patient_id="patient_id")
async def approve_adjustment(patient_id: str, adjustment_id: UUID, request: Request,
                             caller: PaymentsCaller) -> AdjustmentOut:
    return await _decided(request, caller, patient_id, adjustment_id, approve=True)


@router.post("/accounts/{patient_id}/adjustments/{adjustment_id}/reject", response_model=AdjustmentOut,
             responses=_DECISION_RESPONSES)
@audited("update", "adjustment", resource_id="id", patient_id="patient_id")
async def reject_adjustment(patient_id: str, adjustment_id: UUID, request: Request,
                            caller: PaymentsCaller) -> AdjustmentOut:
    return await _decided(request, caller, patient_id, adjustment_id, approve=False)


@router.post("/accounts/{patient_id}/adjustments/{adjustment_id}/reverse", status_code=201,
             response_model=AdjustmentOut, responses=_DECISION_RESPONSES)
@audited("create", "adjustment", resource_id="id", patient_id="patient_id")
async def post_adjustment_reversal(patient_id: str, adjustment_id: UUID, request: Request,
                                   caller: PaymentsCaller) -> AdjustmentOut:
    """A new adjustment taking the posted one back (the patient owes the amount again)."""
    async with request.app.state.runtime.engine.begin() as conn:
        reversal = AdjustmentOut(**await reverse_adjustment(conn, caller.tenant_id, patient_id, adjustment_id,
                                                            actor=caller.actor))
        await record_change(conn, resource=reversal)
    request.app.state.runtime.events_staged()
    return reversal


async def _decided(request: Request, caller, patient_id: str, adjustment_id: UUID, *, approve: bool) -> AdjustmentOut:
    async with request.app.state.runtime.engine.begin() as conn:
        decided = AdjustmentOut(**await decide_adjustment(conn, caller.tenant_id, patient_id, adjustment_id,
                                                          approve=approve, actor=caller.actor))
        await record_change(conn, resource=decided)
    request.app.state.runtime.events_staged()
    return decided
