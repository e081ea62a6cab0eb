"""Applying what other contexts tell the claims context: coverage answers, remittance outcomes
(payments, denials, reversals), and, after a payer's decision, the next payer's claim
(service_layer.coordination_of_benefits)."""

from __future__ import annotations

import sqlalchemy as sa

from openrcm_claims.adapters.tables import claim_adjudications, claims
from openrcm_claims.domain.lifecycle import OPEN_STATUSES, ClaimStatus, CoverageStatus, status_for_outcome
from openrcm_claims.service_layer.claim_locks import lock_claims_for
from openrcm_claims.service_layer.coordination_of_benefits import bill_next_payer, record_forwarded
from openrcm_claims.service_layer.eligibility_answers import record_eligibility_answer
from openrcm_claims.service_layer.eligibility_rescrub import act_on_changed_answer
from openrcm_claims.service_layer.transitions import move_claim, note_on_timeline
from openrcm_shared.contracts.claims import ClaimCoverageRecorded, ClaimStatusChanged
from openrcm_shared.contracts.eligibility import EligibilityChecked
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.messaging.errors import PermanentEventError



async def on_eligibility_checked(ctx: HandlerContext, event: EligibilityChecked) -> None:
    """Record the coverage answer on every open claim of that patient with that payer, and keep it
    per date of service for the scrubber; when that answer changes what the scrubber decides for
    the date, the claims already taken act on it (eligibility_rescrub)."""
    changed = await record_eligibility_answer(ctx.conn, event)
    coverage = CoverageStatus.ACTIVE if event.coverage_active else CoverageStatus.INACTIVE
    # Locked in id order first: an UPDATE alone locks the claims in the order its scan meets
    # them, and deadlocked with a 999 locking the same claims by id.
    open_claims = [row.id for row in await lock_claims_for(ctx, sa.select(claims.c.id).where(
        claims.c.tenant_id == event.tenant_id, claims.c.patient_id == event.patient_id,
        claims.c.payer_id == event.payer_id, claims.c.status.in_([s.value for s in OPEN_STATUSES])))]
    if open_claims:
        await ctx.conn.execute(claims.update().where(claims.c.id.in_(open_claims))
                               .values(coverage_status=coverage, updated_at=sa.func.now()))
    for claim_id in open_claims:
        await note_on_timeline(ctx, claim_id, "coverage_recorded",
                       {"coverage_status": coverage.value, "eligibility_check_id": str(event.check_id)})
        await ctx.emit(ClaimCoverageRecorded(tenant_id=event.tenant_id, claim_id=claim_id,
                                             eligibility_check_id=event.check_id,
                                             coverage_active=event.coverage_active))
    if changed:
        await act_on_changed_answer(ctx, event)


async def _locked_claim(ctx: HandlerContext, claim_id, *, with_its_encounter: bool = False):
    """The claim, locked. `with_its_encounter`: every claim of its encounter is locked with it (in
    id order, in one statement), for a handler that goes on to lock another of them (the next
    payer's claim): locked one after the other, two claims would be locked in payer order."""
    if with_its_encounter:
        encounter = sa.select(claims.c.encounter_id).where(claims.c.id == claim_id,
                                                           claims.c.tenant_id == ctx.tenant_id).scalar_subquery()
        scope = claims.c.encounter_id == encounter
    else:
        scope = claims.c.id == claim_id
    rows = await lock_claims_for(ctx, sa.select(claims).where(scope, claims.c.tenant_id == ctx.tenant_id))
    row = next((row for row in rows if row.id == claim_id), None)
    if row is None:
        raise PermanentEventError("remittance outcome for a claim this service does not know")
    return row


async def on_claim_payment_posted(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    """Move the claim to paid, partially paid or denied; an illegal move is logged and recorded, not applied.
    The money is added to the claim either way: it was paid. Then the next payer is billed, or a
    crossover recorded. "Not our claim" (CLP02 23) moves nothing: the payer passed it on."""
    claim = await _locked_claim(ctx, event.claim_id, with_its_encounter=True)
    await _record_adjudication(ctx, event)
    paid_total = claim.paid_amount + event.paid_amount
    if event.outcome == "not_our_claim":
        await _add_paid(ctx, event.claim_id, paid_total, event.paid_amount)
        await record_forwarded(ctx, claim, event, "not_our_claim")
        return
    target = status_for_outcome(event.outcome)
    applied = await move_claim(
        ctx.conn, claim, target, kind="status_changed",
        detail={"paid_amount": str(event.paid_amount), "allowed_amount": str(event.allowed_amount),
                "patient_responsibility_amount": str(event.patient_responsibility_amount),
                "outcome": event.outcome, "remittance_id": str(event.remittance_id),
                "claim_status_code": event.claim_status_code},
        event=ClaimStatusChanged(tenant_id=ctx.tenant_id, claim_id=event.claim_id, from_status=claim.status,
                                 to_status=target.value, paid_amount=event.paid_amount,
                                 remittance_id=event.remittance_id),
        emit=ctx.emit, paid_amount=paid_total)
    if not applied:
        await _add_paid(ctx, event.claim_id, paid_total, event.paid_amount)
    if ClaimStatus(claim.status) != ClaimStatus.VOIDED:  # a voided claim bills no one further
        await bill_next_payer(ctx, claim, event)


async def _record_adjudication(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    """The payer's decision as the claim's FHIR ClaimResponse shows it (amounts, CAS adjustments
    and patient shares by line)."""
    await ctx.conn.execute(claim_adjudications.insert().values(
        claim_id=event.claim_id, tenant_id=ctx.tenant_id, remittance_id=event.remittance_id, payer_id=event.payer_id,
        adjudicated_on=ctx.envelope.time.date(), outcome=event.outcome, claim_status_code=event.claim_status_code,
        payer_claim_control_number=event.payer_claim_control_number, charge_amount=event.charge_amount,
        allowed_amount=event.allowed_amount, paid_amount=event.paid_amount,
        patient_responsibility_amount=event.patient_responsibility_amount,
        adjustments=[a.model_dump(mode="json") for a in event.adjustments],
        patient_shares=[share.model_dump(mode="json") for share in event.patient_shares],
        lines=[{name: value for name, value in line.model_dump(mode="json").items()
                if name in ("line_number", "charge_amount", "allowed_amount", "paid_amount",
                            "patient_responsibility_amount")} for line in event.lines]))


async def _withdraw_adjudication(ctx: HandlerContext, event: ClaimReversed) -> None:
    """A reversal takes back the payer's latest standing decision on the claim (as remittance
    takes back the claim's latest standing payment)."""
    latest = (sa.select(sa.func.max(claim_adjudications.c.id))
              .where(claim_adjudications.c.claim_id == event.claim_id,
                     claim_adjudications.c.reversed_by_remittance_id.is_(None))
              .scalar_subquery())
    await ctx.conn.execute(claim_adjudications.update().where(claim_adjudications.c.id == latest)
                           .values(reversed_by_remittance_id=event.remittance_id))


async def _add_paid(ctx: HandlerContext, claim_id, paid_total, paid) -> None:
    if paid:
        await ctx.conn.execute(claims.update().where(claims.c.id == claim_id)
                               .values(paid_amount=paid_total, updated_at=sa.func.now()))


async def on_claim_reversed(ctx: HandlerContext, event: ClaimReversed) -> None:
    """CLP02 22: the payer took its decision back. The claim returns to accepted_by_payer (with the
    payer, awaiting a decision) and the reversed payment comes off its paid amount, so the corrected
    decision that usually follows in the same ERA posts as a normal one."""
    claim = await _locked_claim(ctx, event.claim_id)
    await _withdraw_adjudication(ctx, event)
    paid_total = claim.paid_amount - event.reversed_paid_amount
    applied = await move_claim(
        ctx.conn, claim, ClaimStatus.ACCEPTED_BY_PAYER, kind="decision_reversed",
        detail={"reversed_paid_amount": str(event.reversed_paid_amount),
                "reversed_patient_responsibility_amount": str(event.reversed_patient_responsibility_amount),
                "payer_claim_control_number": event.payer_claim_control_number,
                "remittance_id": str(event.remittance_id)},
        event=ClaimStatusChanged(tenant_id=ctx.tenant_id, claim_id=event.claim_id, from_status=claim.status,
                                 to_status=ClaimStatus.ACCEPTED_BY_PAYER.value, paid_amount=-event.reversed_paid_amount,
                                 remittance_id=event.remittance_id),
        emit=ctx.emit, paid_amount=paid_total)
    if not applied:
        await _add_paid(ctx, event.claim_id, paid_total, event.reversed_paid_amount)


async def on_claim_denied(ctx: HandlerContext, event: ClaimDenied) -> None:
    """Put the denial reasons on the claim's timeline (the status came with ClaimPaymentPosted)."""
    await _locked_claim(ctx, event.claim_id)
    await note_on_timeline(ctx, event.claim_id, "denial_recorded", {
        "denied_amount": str(event.denied_amount),
        "denials": [{"line_number": d.line_number, "group_code": d.group_code, "carc": d.carc, "rarcs": d.rarcs,
                     "amount": str(d.amount)} for d in event.denials],
        "remittance_id": str(event.remittance_id)})
