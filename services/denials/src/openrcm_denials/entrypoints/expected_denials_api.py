"""The expected-denial worklist: claims the payer has that it will likely deny (an eligibility answer
found the coverage inactive on a date of service they bill), listed, read and resolved by hand. The
payer's remittance resolves them too (service_layer.expected_denials)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from openrcm_denials.adapters.expected_denial_tables import OPEN_SQL, expected_denials
from openrcm_denials.domain.expected_denials import ExpectedDenialStatus, Resolution, age_in_days
from openrcm_denials.service_layer import expected_denials as expected
from openrcm_denials.service_layer.case_moves import outbox_emitter
from openrcm_shared.audit import audited, record_change
from openrcm_shared.http.openapi_docs import problem_doc
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.problems import Problem
from openrcm_shared.money import Money
from openrcm_shared.security.practice import DenialsWork, DenialsWorker

router = APIRouter(prefix="/v1", tags=["expected denials"])

# What a person may record (`denied` and `paid` are the payer's, set by its remittance).
ManualResolution = Literal["coverage_corrected", "billed_other_payer", "billed_patient", "no_action"]
# Highest billed amount first; oldest flag first.
SORTS = {"amount": ("billed_amount", True), "age": ("flagged_at", False)}
_NOT_FOUND = {404: problem_doc(404, "No such expected denial in this practice")}


class ExpectedDenialOut(BaseModel):
    id: UUID
    claim_id: UUID
    payer_id: str
    payer_name: str | None
    reason: str
    eligibility_check_id: UUID  # the latest check that found the coverage inactive
    eligibility_check_ids: list[UUID]
    service_date: date
    claim_status: str  # when flagged
    flagged_at: datetime
    last_flagged_at: datetime
    age_days: int
    # The claim as billed when flagged (0.00 and nulls when denials had not seen it submitted).
    billed_amount: Money
    patient_id: str | None
    patient_name: str | None
    member_id: str | None
    patient_control_number: str | None
    billing_provider_npi: str | None
    rendering_provider_npi: str | None
    service_date_from: date | None
    service_date_to: date | None
    status: ExpectedDenialStatus
    resolution: Resolution | None
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    denial_case_id: UUID | None  # the case opened for the denial, when the payer denied it
    remittance_id: UUID | None  # the remittance that settled it


def _out(row) -> ExpectedDenialOut:
    return ExpectedDenialOut(**row, age_days=age_in_days(row["flagged_at"], datetime.now(timezone.utc)))


class ResolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: ManualResolution
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


def _runtime(request: Request):
    return request.app.state.runtime


@router.get("/expected-denials", response_model=Page[ExpectedDenialOut],
            responses={400: problem_doc(400, "A cursor this API did not issue"),
                       422: problem_doc(422, "An unknown status or sort, or a malformed filter")})
@audited("list", "expected_denial")
async def list_expected_denials(
        request: Request, tenant_id: DenialsWork,
        status: ExpectedDenialStatus = ExpectedDenialStatus.OPEN,
        payer_id: Annotated[str | None, Query(max_length=80)] = None, claim_id: UUID | None = None,
        sort: Literal["amount", "age"] = "amount",
        cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[ExpectedDenialOut]:
    """Claims the payer will likely deny, open ones by default: by billed amount (highest first) or age
    (oldest flag first), optionally one payer's or one claim's. Cursor-paginated."""
    query = sa.select(expected_denials).where(expected_denials.c.tenant_id == tenant_id)
    # The same text as the worklist indexes' predicate, so PostgreSQL proves they apply.
    query = query.where(sa.text(OPEN_SQL) if status is ExpectedDenialStatus.OPEN
                        else expected_denials.c.status == status.value)
    filters = {expected_denials.c.payer_id: payer_id, expected_denials.c.claim_id: claim_id}
    query = query.where(*[column == value for column, value in filters.items() if value is not None])
    column, descending = SORTS[sort]
    async with _runtime(request).engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[expected_denials.c[column], expected_denials.c.id],
                                             cursor=cursor, limit=limit, descending=descending)
    return Page[ExpectedDenialOut](items=[_out(row._mapping) for row in rows], next_cursor=next_cursor)


@router.get("/expected-denials/{expected_denial_id}", response_model=ExpectedDenialOut, responses=_NOT_FOUND)
@audited("read", "expected_denial", resource_id="expected_denial_id", patient_id="patient_id")
async def get_expected_denial(expected_denial_id: UUID, request: Request, tenant_id: DenialsWork) -> ExpectedDenialOut:
    """One expected denial, open or resolved (how, by whom, the denial case it became)."""
    async with _runtime(request).engine.connect() as conn:
        row = (await conn.execute(sa.select(expected_denials).where(
            expected_denials.c.tenant_id == tenant_id, expected_denials.c.id == expected_denial_id))).first()
    if row is None:
        raise Problem(404, "Expected denial not found", type_="not-found")
    return _out(row._mapping)


@router.post("/expected-denials/{expected_denial_id}/resolution", response_model=ExpectedDenialOut,
             responses={**_NOT_FOUND, 409: problem_doc(409, "Resolved already"),
                        422: problem_doc(422, "A resolution that is not a person's, or no note")})
@audited("resolve", "expected_denial", resource_id="expected_denial_id", patient_id="patient_id")
async def resolve_expected_denial(expected_denial_id: UUID, body: ResolutionIn, request: Request,
                                  caller: DenialsWorker) -> ExpectedDenialOut:
    """Settle an open expected denial by hand: the coverage was corrected, another payer or the patient
    was billed, or nothing is to be done; with a note. The resolver is the caller's token subject."""
    try:
        async with _runtime(request).engine.begin() as conn:
            row = await expected.resolve_by_hand(conn, outbox_emitter(conn), tenant_id=caller.tenant_id,
                                                 item_id=expected_denial_id, resolution=Resolution(body.resolution),
                                                 note=body.note, by=caller.actor)
            await record_change(conn, resource_id=expected_denial_id, patient_id=row["patient_id"])
    except expected.ExpectedDenialNotFound:
        raise Problem(404, "Expected denial not found", type_="not-found") from None
    except expected.ExpectedDenialSettled as settled:
        raise Problem(409, "Expected denial already resolved", f"It was resolved as {settled.args[0]}.",
                      type_="expected-denial-resolved") from None
    _runtime(request).events_staged()
    return _out(row)
