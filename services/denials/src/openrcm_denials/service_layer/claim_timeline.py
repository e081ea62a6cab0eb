"""The claim's facts and timeline as the denials service knows them, from claims' and remittance's
events: what was billed, where the 837 went, when the 999 and 277CA accepted it (the timely-filing
proof of an appeal), what the payer paid and took back. `claim_timeline` is what a case shows."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.appeal_tables import claim_facts, claim_timeline as timeline
from openrcm_shared.contracts.claims import (
    ClaimAcceptedByClearinghouse, ClaimAcceptedByPayer, ClaimDenialExpected, ClaimRejected, ClaimStatusChanged,
    ClaimSubmitted,
)
from openrcm_shared.contracts.remittance import ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import HandlerContext, MergedUpsert


class TimelineEntryOut(BaseModel):
    occurred_at: datetime
    kind: str
    version: int | None = None
    control_number: str | None = None
    detail: dict


# Every claim event of every claim comes here (five or more per claim, whether or not it is ever
# denied), so the statements are built once and run with parameters, and the timeline's rows, read
# only by a case's view and by settlements (which flush them first), go with the consumer run's
# other writes at its commit: building a statement per event was most of the consumer's CPU.
TIMELINE_INSERT = timeline.insert()
_FACTS_UPSERTS: dict[tuple[str, ...], sa.Insert] = {}
_FACTS_KEY = ("claim_id", "tenant_id")


def _facts_upsert(columns: tuple[str, ...]) -> sa.Insert:
    """The claim's facts row with `columns` (its key and updated_at among them) set."""
    statement = _FACTS_UPSERTS.get(columns)
    if statement is None:
        inserted = pg_insert(claim_facts)
        statement = _FACTS_UPSERTS[columns] = inserted.on_conflict_do_update(
            index_elements=[claim_facts.c.claim_id],
            set_={column: inserted.excluded[column] for column in columns if column not in _FACTS_KEY})
    return statement


# Read only by the API (a case's letter and actions), never by a consumer run: each run's facts
# of a claim are merged and written once at its commit.
CLAIM_FACTS = MergedUpsert(_facts_upsert)


async def _record(ctx: HandlerContext, claim_id: UUID, kind: str, *, version: int | None = None,
                  control_number: str | None = None, detail: dict | None = None) -> None:
    await ctx.write_at_commit(TIMELINE_INSERT, {
        "tenant_id": ctx.tenant_id, "claim_id": claim_id, "event_id": ctx.envelope.id,
        "occurred_at": ctx.envelope.time, "kind": kind, "version": version, "control_number": control_number,
        "detail": detail or {}})


async def _update_facts(ctx: HandlerContext, claim_id: UUID, **values) -> None:
    """The claim's facts row, created by the first event that names the claim."""
    await ctx.merge_at_commit(CLAIM_FACTS, {"claim_id": claim_id}, {
        "tenant_id": ctx.tenant_id, "updated_at": datetime.now(timezone.utc), **values})


async def on_claim_submitted(ctx: HandlerContext, event: ClaimSubmitted) -> None:
    """What was billed (a corrected version replaces the facts of the one before)."""
    await _update_facts(
        ctx, event.claim_id, patient_id=event.patient_id, patient_control_number=event.patient_control_number,
        payer_id=event.payer_id, payer_name=event.payer_name, patient_name=event.patient_name,
        member_id=event.member_id, billing_provider_name=event.billing_provider_name,
        billing_provider_npi=event.billing_provider_npi, rendering_provider_npi=event.rendering_provider_npi,
        service_date_from=event.service_date_from,
        service_date_to=event.service_date_to, total_charge=event.total_charge,
        lines=[line.model_dump(mode="json") for line in event.lines], diagnosis_codes=event.diagnosis_codes,
        frequency_code=event.frequency_code, claim_status="submitted")
    await _record(ctx, event.claim_id, "submitted_837", control_number=event.interchange_control_number, detail={
        "submitted_at": event.submitted_at.isoformat(), "transaction_set_control_number":
            event.transaction_set_control_number, "frequency_code": event.frequency_code,
        "total_charge": str(event.total_charge)})


async def on_claim_accepted_by_clearinghouse(ctx: HandlerContext, event: ClaimAcceptedByClearinghouse) -> None:
    await _record(ctx, event.claim_id, f"accepted_{event.acknowledgement.lower()}", version=event.version,
                  control_number=event.control_number)


async def on_claim_accepted_by_payer(ctx: HandlerContext, event: ClaimAcceptedByPayer) -> None:
    await _update_facts(ctx, event.claim_id, payer_claim_control_number=event.payer_claim_control_number,
                        claim_status="accepted_by_payer")
    await _record(ctx, event.claim_id, "accepted_by_payer_277ca", version=event.version,
                  control_number=event.control_number,
                  detail={"payer_claim_control_number": event.payer_claim_control_number})


async def on_claim_rejected(ctx: HandlerContext, event: ClaimRejected) -> None:
    await _record(ctx, event.claim_id, f"rejected_{event.acknowledgement.lower()}", version=event.version,
                  detail={"reasons": [reason.code for reason in event.reasons]})


async def on_claim_status_changed(ctx: HandlerContext, event: ClaimStatusChanged) -> None:
    await _update_facts(ctx, event.claim_id, claim_status=event.to_status)
    await _record(ctx, event.claim_id, "status_changed", detail={
        "from_status": event.from_status, "to_status": event.to_status,
        "paid_amount": str(event.paid_amount) if event.paid_amount is not None else None})


async def record_denial_expected(ctx: HandlerContext, event: ClaimDenialExpected) -> None:
    """The payer answered a check that the coverage is inactive on a date of service the claim bills
    (the expected-denial item is service_layer.expected_denials')."""
    await _record(ctx, event.claim_id, "denial_expected", detail={
        "reason": event.reason, "eligibility_check_id": str(event.eligibility_check_id),
        "service_date": event.service_date.isoformat(), "claim_status": event.status})


async def record_payment(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    if event.payer_claim_control_number:
        await _update_facts(ctx, event.claim_id, payer_claim_control_number=event.payer_claim_control_number)
    await _record(ctx, event.claim_id, "payment_posted", control_number=event.payer_claim_control_number, detail={
        "remittance_id": str(event.remittance_id), "outcome": event.outcome, "paid_amount": str(event.paid_amount),
        "lines": {str(line.line_number): str(line.paid_amount) for line in event.lines}})


async def record_reversal(ctx: HandlerContext, event: ClaimReversed) -> None:
    await _record(ctx, event.claim_id, "payment_reversed", control_number=event.payer_claim_control_number, detail={
        "remittance_id": str(event.remittance_id), "reversed_paid_amount": str(event.reversed_paid_amount)})


async def claim_timeline(conn: AsyncConnection, tenant_id: str, claim_id: UUID) -> list[TimelineEntryOut]:
    """The claim's history in the order its events happened (for the case detail): by each event's
    time, those of the same instant in the order applied. Not in the order applied: the claims and
    remittance topics are read independently, so a payment may be applied before the claim's
    submission it follows."""
    rows = (await conn.execute(sa.select(timeline).where(timeline.c.tenant_id == tenant_id,
                                                         timeline.c.claim_id == claim_id)
                               .order_by(timeline.c.occurred_at, timeline.c.id))).all()
    return [TimelineEntryOut(occurred_at=row.occurred_at, kind=row.kind, version=row.version,
                             control_number=row.control_number, detail=row.detail) for row in rows]


async def paid_in_remittance(ctx: HandlerContext, tenant_id: str, claim_id: UUID, remittance_id: UUID) -> Decimal:
    """What the payer paid on the claim in one remittance (its payments net of its reversals),
    the timeline rows of this consumer run included."""
    await ctx.write_pending(TIMELINE_INSERT)
    rows = (await ctx.conn.execute(sa.select(timeline.c.kind, timeline.c.detail).where(
        timeline.c.tenant_id == tenant_id, timeline.c.claim_id == claim_id,
        timeline.c.kind.in_(("payment_posted", "payment_reversed")),
        timeline.c.detail["remittance_id"].astext == str(remittance_id)))).all()
    return sum((Decimal(row.detail["paid_amount"]) if row.kind == "payment_posted"
                else -Decimal(row.detail["reversed_paid_amount"]) for row in rows), Decimal("0.00"))
