"""The insurance follow-up worklist, its call notes and actions, payers' follow-up ages, and a
claim's receivable as of any date."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from openrcm_collections.adapters.receivable_tables import follow_up_notes, receivable_claims, receivable_movements
from openrcm_collections.receivables.follow_up import (
    CallOutcome, FollowUpAction, FollowUpReason, record_note, set_follow_up_age, worklist_query,
)
from openrcm_shared.audit import audited
from openrcm_shared.contracts.collections import ClaimFollowUpRequested
from openrcm_shared.db import snapshot
from openrcm_shared.documents.tabular import ExportFormat, export_response, export_responses_doc
from openrcm_shared.http.pagination import decode_cursor, encode_cursor, invalid_cursor
from openrcm_shared.http.problems import Problem
from openrcm_shared.messaging.outbox import stage_events
from openrcm_shared.money import Money
from openrcm_shared.security.practice import CollectionsWork, CollectionsWorker

router = APIRouter(prefix="/v1", tags=["insurance follow-up"])
_NOT_FOUND = {404: {"description": "No receivable for this claim in the practice"}}


class WorklistItem(BaseModel):
    claim_id: UUID
    patient_id: str | None
    payer_id: str | None
    status: str | None
    reason: FollowUpReason
    balance: Money
    billed_amount: Money
    service_date: date | None
    first_billed_on: date | None
    age_days: int
    assignee: str | None
    next_action_on: date | None
    last_outcome: CallOutcome | None
    inquiry_category_code: str | None
    inquiry_status_code: str | None


class WorklistOut(BaseModel):
    as_of: date
    items: list[WorklistItem]
    next_cursor: str | None = None


_COLUMNS = list(WorklistItem.model_fields)


def _after(listed, cursor: str | None):
    """Keyset for the ranking (dollars, largest first; then age, oldest first; then claim id)."""
    if cursor is None:
        return None
    values = decode_cursor(cursor, 3)
    try:
        balance, age, claim_id = Decimal(values[0]), int(values[1]), UUID(values[2])
    except (ValueError, ArithmeticError):
        raise invalid_cursor() from None
    return sa.or_(listed.c.balance < balance,
                  sa.and_(listed.c.balance == balance, sa.or_(
                      listed.c.age_days < age, sa.and_(listed.c.age_days == age, listed.c.claim_id > claim_id))))


@router.get("/follow-up/claims", response_model=WorklistOut,
            responses={**export_responses_doc(), 400: {"description": "The cursor is not one this list gave"}})
@audited("read", "follow_up_worklist")
async def follow_up_worklist(request: Request, tenant_id: CollectionsWork,
                             reason: FollowUpReason | None = None, payer_id: str | None = None,
                             assignee: str | None = None, cursor: str | None = None,
                             limit: Annotated[int, Query(ge=1, le=500)] = 100,
                             format: ExportFormat = ExportFormat.JSON):
    """Claims to chase today, largest receivable first, then oldest: unacknowledged, waiting for the
    payer's 277CA, accepted with no 835, or unpaid past the payer's follow-up age (45 days unless set)."""
    today = datetime.now(timezone.utc).date()
    listed = worklist_query(tenant_id, today).subquery()
    query = sa.select(*(listed.c[name] for name in _COLUMNS))
    for column, wanted in (("reason", reason), ("payer_id", payer_id), ("assignee", assignee)):
        if wanted is not None:
            query = query.where(listed.c[column] == wanted)
    after = _after(listed, cursor)
    if after is not None:
        query = query.where(after)
    query = query.order_by(listed.c.balance.desc(), listed.c.age_days.desc(), listed.c.claim_id).limit(limit + 1)
    async with snapshot(request.app.state.runtime.engine) as conn:
        rows = (await conn.execute(query)).all()
    page = rows[:limit]
    if format is not ExportFormat.JSON:
        return export_response(format, f"follow-up-{today.isoformat()}", _COLUMNS, [list(row) for row in page])
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last.balance, last.age_days, last.claim_id)
    return WorklistOut(as_of=today, items=[WorklistItem(**row._mapping) for row in page], next_cursor=next_cursor)


class NoteIn(BaseModel):
    note: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    outcome: CallOutcome | None = Field(default=None, description="What the payer said, coded")
    action: FollowUpAction | None = Field(default=None, description="Asks the claims service to act on the claim")
    next_action_on: date | None = Field(default=None, description="The claim leaves the worklist until this day")
    assignee: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Who works the claim (absent: unchanged; null: unassigned)")


class NoteOut(BaseModel):
    id: int
    claim_id: UUID
    outcome: CallOutcome | None
    action: FollowUpAction | None
    note: str
    next_action_on: date | None
    author: str
    created_at: datetime


@router.post("/follow-up/claims/{claim_id}/notes", response_model=NoteOut, status_code=201, responses=_NOT_FOUND)
@audited("create", "follow_up_note", resource_id="claim_id")
async def add_note(claim_id: UUID, body: NoteIn, request: Request, caller: CollectionsWorker) -> NoteOut:
    """A call note with its coded outcome, next action date and assignment; an `action` is sent to
    the claims service (ClaimFollowUpRequested: resubmit, correct, or a 276 to the payer)."""
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        claim = (await conn.execute(sa.select(receivable_claims.c.payer_id).where(
            receivable_claims.c.tenant_id == caller.tenant_id, receivable_claims.c.claim_id == claim_id))).first()
        if claim is None:
            raise Problem(404, "No receivable for this claim", type_="not-found")
        note_id = await record_note(conn, caller.tenant_id, claim_id, author=caller.actor, note=body.note,
                                    outcome=body.outcome, action=body.action, next_action_on=body.next_action_on,
                                    assignee=body.assignee, assign="assignee" in body.model_fields_set)
        if body.action is not None:
            await stage_events(conn, [ClaimFollowUpRequested(
                tenant_id=caller.tenant_id, claim_id=claim_id, payer_id=claim.payer_id, action=body.action.value,
                outcome=body.outcome.value if body.outcome else None, requested_at=datetime.now(timezone.utc))],
                source="collections", aggregate_type="claim_follow_up")
        row = (await conn.execute(sa.select(follow_up_notes).where(follow_up_notes.c.id == note_id))).one()
    if body.action is not None:
        runtime.events_staged()
    return NoteOut(**row._mapping)


@router.get("/follow-up/claims/{claim_id}/notes", response_model=list[NoteOut])
@audited("read", "follow_up_note", resource_id="claim_id")
async def list_notes(claim_id: UUID, request: Request, tenant_id: CollectionsWork) -> list[NoteOut]:
    """The claim's call notes, oldest first."""
    async with snapshot(request.app.state.runtime.engine) as conn:
        rows = (await conn.execute(sa.select(follow_up_notes).where(
            follow_up_notes.c.tenant_id == tenant_id, follow_up_notes.c.claim_id == claim_id)
            .order_by(follow_up_notes.c.id))).all()
    return [NoteOut(**row._mapping) for row in rows]


class FollowUpAgeIn(BaseModel):
    follow_up_after_days: Annotated[int, Field(ge=1, le=365, description="Days after first billing")]


class FollowUpAgeOut(FollowUpAgeIn):
    payer_id: str


@router.put("/follow-up/payers/{payer_id}", response_model=FollowUpAgeOut)
async def put_follow_up_age(payer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,15}$")],
                            body: FollowUpAgeIn, request: Request, tenant_id: CollectionsWork) -> FollowUpAgeOut:
    """The payer's follow-up age: its unpaid claims join the worklist this many days after first billing."""
    async with request.app.state.runtime.engine.begin() as conn:
        await set_follow_up_age(conn, tenant_id, payer_id, body.follow_up_after_days)
    return FollowUpAgeOut(payer_id=payer_id, follow_up_after_days=body.follow_up_after_days)


class MovementOut(BaseModel):
    movement_kind: str
    occurred_on: date
    amount: Money
    billed: Money
    paid: Money
    contractual: Money
    other_adjustment: Money
    patient_transfer: Money
    prior_payer: Money
    denied: Money
    remittance_id: UUID | None


class ReceivableOut(BaseModel):
    claim_id: UUID
    payer_id: str | None
    payer_responsibility: str | None
    as_of: date
    balance: Money
    movements: list[MovementOut]
    # The payer's last answer to a claim status inquiry (277 STC01), whenever it came.
    inquiry_category_code: str | None = None
    inquiry_status_code: str | None = None


@router.get("/receivables/{claim_id}", response_model=ReceivableOut, responses=_NOT_FOUND)
@audited("read", "receivable", resource_id="claim_id")
async def get_receivable(claim_id: UUID, request: Request, tenant_id: CollectionsWork,
                         as_of: Annotated[date | None, Query(description="End of this day (UTC); today when absent")]
                         = None) -> ReceivableOut:
    """The claim's insurance receivable as of a day, with every movement up to it."""
    as_of = as_of or datetime.now(timezone.utc).date()
    m = receivable_movements.c
    async with snapshot(request.app.state.runtime.engine) as conn:
        claim = (await conn.execute(sa.select(receivable_claims).where(
            receivable_claims.c.tenant_id == tenant_id, receivable_claims.c.claim_id == claim_id))).first()
        if claim is None:
            raise Problem(404, "No receivable for this claim", type_="not-found")
        rows = (await conn.execute(sa.select(*(m[name] for name in MovementOut.model_fields)).where(
            m.tenant_id == tenant_id, m.claim_id == claim_id, m.occurred_on <= as_of).order_by(m.id))).all()
    movements = [MovementOut(**row._mapping) for row in rows]
    return ReceivableOut(claim_id=claim_id, payer_id=claim.payer_id, payer_responsibility=claim.payer_responsibility,
                         as_of=as_of, balance=sum((mv.amount for mv in movements), Decimal("0.00")),
                         movements=movements, inquiry_category_code=claim.inquiry_category_code,
                         inquiry_status_code=claim.inquiry_status_code)
