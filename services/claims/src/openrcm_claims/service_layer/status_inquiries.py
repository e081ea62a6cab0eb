"""Claim status inquiries: a 276 to the payer through the clearinghouse, its 277 applied to the claim.

An inquiry is asked for by the collections service (ClaimFollowUpRequested with `ask_payer`): by
someone working the A/R, or by its daily pass over the claims still waiting for their payer past the
payer's follow-up age (the ages live in collections only, `PUT /v1/follow-up/payers/{id}`; this
service keeps none). It is stored `pending` first, in the transaction that asked for it. The inquiry worker then sends each
pending one (one 276 per claim; the inquiry id is its TRN02 trace number and the idempotency key),
reads the 277 that comes back (real-time, as CAQH CORE 250 has it) and, in one transaction, marks
the inquiry answered, puts the payer's category and status codes (STC01) on the claim's timeline and
publishes ClaimStatusInquiryAnswered. A clearinghouse that is away leaves the inquiry pending for the
next round; an answer that cannot be read marks it failed, with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_claims.adapters import claim_writes
from openrcm_claims.adapters.clearinghouse import ClearinghouseRefused, ClearinghouseUnavailable
from openrcm_claims.adapters.tables import claim_lines, claim_status_inquiries, claims
from openrcm_claims.adapters.x12_claims import build_claim
from openrcm_claims.service_layer.claim_events import stage_claim_events
from openrcm_claims.service_layer.claim_locks import lock_claims_for
from openrcm_claims.service_layer.reference_data import payer_names
from openrcm_claims.service_layer.transitions import note_on_timeline
from openrcm_shared.contracts.claims import ClaimStatusInquiryAnswered
from openrcm_shared.contracts.collections import ClaimFollowUpRequested
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope
from openrcm_shared.x12.claim_status_276 import InquiryPerson, StatusInquiry, StatusInquiryBatch, build_276
from openrcm_shared.x12.claim_status_277 import parse_277

log = logging.getLogger(__name__)


async def _ask(conn, tenant_id: str, claim_id, reason: str, now: datetime) -> uuid.UUID:
    inquiry_id = uuid.uuid4()
    await conn.execute(claim_status_inquiries.insert().values(
        id=inquiry_id, tenant_id=tenant_id, claim_id=claim_id, reason=reason, status="pending", requested_at=now))
    return inquiry_id


async def on_claim_follow_up_requested(ctx: HandlerContext, event: ClaimFollowUpRequested) -> None:
    """`ask_payer` queues a 276; `resubmit` and `correct` go on the claim's timeline for the billing
    staff, who resubmit or correct through the claims API (a correction needs the fixed data)."""
    # Locked before its inquiry and timeline rows are written: their foreign-key checks would
    # otherwise wait for a claim another transaction holds (see claim_locks).
    exists = await lock_claims_for(ctx, sa.select(claims.c.id).where(
        claims.c.id == event.claim_id, claims.c.tenant_id == ctx.tenant_id))
    if not exists:
        log.warning("follow-up requested for an unknown claim", extra={"claim_id": str(event.claim_id)})
        return
    detail = {"action": event.action, "outcome": event.outcome}
    if event.action == "ask_payer":
        detail["inquiry_id"] = str(await _ask(ctx.conn, ctx.tenant_id, event.claim_id, "follow_up_request",
                                              ctx.envelope.time))
    await note_on_timeline(ctx, event.claim_id, "follow_up_requested", detail)


# The 837 model of the claim gives the 276 its parties (payer, provider, subscriber, patient).
_CLAIM_COLUMNS = (*(column for column in claims.c if column.name != "encounter_document"),
                  sa.cast(claims.c.encounter_document, sa.Text).label("encounter_document"))


def _person(party) -> InquiryPerson:
    return InquiryPerson(last_name=party.last_name, first_name=party.first_name,
                         member_id=getattr(party, "member_id", None), birth_date=party.birth_date, gender=party.gender)


def inquiry_batch(claim, model, inquiry_id: uuid.UUID, settings) -> StatusInquiryBatch:
    """The 276 content for one claim, from its 837 model."""
    return StatusInquiryBatch(
        payer_name=model.payer.name, payer_id=model.payer.payer_id, receiver_name=settings.submitter_name,
        receiver_id=settings.submitter_id, provider_name=model.billing_provider.name,
        provider_npi=model.billing_provider.npi, reference=inquiry_id.hex[:30],
        inquiries=[StatusInquiry(
            trace_number=inquiry_id.hex, patient_control_number=claim.patient_control_number,
            total_charge=claim.total_charge, service_date_from=claim.service_date_from,
            service_date_to=claim.service_date_to, subscriber=_person(model.subscriber),
            patient=_person(model.patient) if model.patient is not None else None,
            payer_claim_control_number=claim.payer_claim_control_number)])


async def _render_276(conn, inquiry, settings, now: datetime) -> tuple[object, str]:
    claim = (await conn.execute(sa.select(*_CLAIM_COLUMNS).where(claims.c.id == inquiry.claim_id))).one()
    lines = (await conn.execute(sa.select(claim_lines).where(claim_lines.c.claim_id == claim.id)
                                .order_by(claim_lines.c.line_number))).all()
    model = build_claim(claim, lines, await payer_names(conn, claim.tenant_id))
    [interchange, group] = [(await conn.execute(sa.text(f"SELECT nextval('{sequence}')"))).scalar_one()
                            for sequence in ("interchange_control_number_seq", "group_control_number_seq")]
    envelope = InterchangeEnvelope(
        sender_qualifier="ZZ", sender_id=settings.submitter_id, receiver_qualifier="ZZ",
        receiver_id=settings.receiver_id, application_sender_code=settings.submitter_id,
        application_receiver_code=settings.receiver_id, interchange_control_number=interchange,
        group_control_number=group, created_at=now, usage_indicator=settings.usage_indicator)
    return claim, build_276(envelope, [inquiry_batch(claim, model, inquiry.id, settings)])


async def send_pending_inquiries(engine: AsyncEngine, clearinghouse, settings, *, limit: int = 100) -> int:
    """Send pending inquiries (each locked while it is asked) and apply the answers; returns how
    many were answered. Stops at the first clearinghouse outage (the rest wait for the next round)."""
    answered = 0
    for _ in range(limit):
        async with engine.begin() as conn:
            inquiry = (await conn.execute(
                sa.select(claim_status_inquiries).where(claim_status_inquiries.c.status == "pending")
                .order_by(claim_status_inquiries.c.requested_at).limit(1).with_for_update(skip_locked=True))).first()
            if inquiry is None:
                break
            now = datetime.now(timezone.utc)
            try:
                claim, request_x12 = await _render_276(conn, inquiry, settings, now)
                answer_x12 = await clearinghouse.claim_status(inquiry.id, request_x12.encode("ascii"))
                await _apply_answer(conn, inquiry, claim, answer_x12, now)
                answered += 1
            except ClearinghouseUnavailable as exc:
                log.warning("clearinghouse unavailable; inquiry stays pending", extra={"error_class": str(exc)})
                break
            except (ClearinghouseRefused, ValueError) as failure:
                await conn.execute(claim_status_inquiries.update().where(claim_status_inquiries.c.id == inquiry.id)
                                   .values(status="failed", error=str(failure)[:500], answered_at=now))
    return answered


async def _apply_answer(conn, inquiry, claim, answer_x12: str, now: datetime) -> None:
    answers = [a for a in parse_277(answer_x12) if a.trace_number == inquiry.id.hex]
    if not answers:
        raise ValueError("the 277 does not answer this inquiry (no TRN*2 with its trace number)")
    answer = answers[0]
    status = answer.current
    code = status.primary
    await conn.execute(claim_status_inquiries.update().where(claim_status_inquiries.c.id == inquiry.id).values(
        status="answered", answered_at=now, category_code=code.category, status_code=code.status))
    [envelope] = await stage_claim_events(conn, [ClaimStatusInquiryAnswered(
        tenant_id=claim.tenant_id, claim_id=claim.id, payer_id=claim.payer_id, category_code=code.category,
        status_code=code.status, entity_code=code.entity, status_date=status.status_date,
        payer_claim_control_number=answer.payer_claim_control_number, total_charge=status.total_charge,
        paid_amount=status.paid_amount, answered_at=now)])
    await claim_writes.insert_history(conn, [{
        "claim_id": claim.id, "tenant_id": claim.tenant_id, "occurred_at": now, "kind": "status_inquiry_answered",
        "from_status": None, "to_status": None, "event_id": envelope.id,
        "detail": {"inquiry_id": str(inquiry.id), "category_code": code.category, "status_code": code.status,
                   "entity_code": code.entity,
                   "status_date": status.status_date.isoformat() if status.status_date else None,
                   "payer_claim_control_number": answer.payer_claim_control_number}}])


async def run_status_inquiry_loop(runtime, settings, clearinghouse, interval_seconds: float) -> None:
    """Send pending inquiries every `interval_seconds`. System role: every practice's inquiries."""
    while True:
        try:
            if clearinghouse is not None and await send_pending_inquiries(runtime.system_engine, clearinghouse,
                                                                          settings):
                runtime.events_staged()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database away: try again next round
            log.warning("status inquiry round failed", extra={"error_class": type(exc).__name__})
        await asyncio.sleep(interval_seconds)
