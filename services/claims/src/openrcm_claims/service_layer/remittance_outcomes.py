"""Applying what other contexts tell the claims context: coverage answers and remittance outcomes."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from openrcm_claims.adapters.tables import claim_history, claims
from openrcm_claims.domain.lifecycle import OPEN_STATUSES, CoverageStatus, status_for_outcome
from openrcm_claims.service_layer.transitions import move_claim
from openrcm_shared.contracts.claims import ClaimCoverageRecorded, ClaimStatusChanged
from openrcm_shared.contracts.eligibility import EligibilityChecked
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.messaging.errors import PermanentEventError



async def _history(ctx: HandlerContext, claim_id, kind: str, detail: dict, from_status=None, to_status=None,
                   event_id=None) -> None:
    await ctx.conn.execute(claim_history.insert().values(
        claim_id=claim_id, tenant_id=ctx.tenant_id, occurred_at=datetime.now(timezone.utc), kind=kind,
        from_status=from_status, to_status=to_status, event_id=event_id or ctx.envelope.id, detail=detail))


async def on_eligibility_checked(ctx: HandlerContext, event: EligibilityChecked) -> None:
    """Record the coverage answer on every open claim of that patient with that payer."""
    coverage = CoverageStatus.ACTIVE if event.coverage_active else CoverageStatus.INACTIVE
    updated = await ctx.conn.execute(
        claims.update()
        .where(claims.c.tenant_id == event.tenant_id, claims.c.patient_id == event.patient_id,
               claims.c.payer_id == event.payer_id, claims.c.status.in_([s.value for s in OPEN_STATUSES]))
        .values(coverage_status=coverage, updated_at=sa.func.now())
        .returning(claims.c.id))
    for (claim_id,) in updated.all():
        await _history(ctx, claim_id, "coverage_recorded",
                       {"coverage_status": coverage.value, "eligibility_check_id": str(event.check_id)})
        await ctx.emit(ClaimCoverageRecorded(tenant_id=event.tenant_id, claim_id=claim_id,
                                             eligibility_check_id=event.check_id,
                                             coverage_active=event.coverage_active))


async def _locked_claim(ctx: HandlerContext, claim_id):
    row = (await ctx.conn.execute(
        sa.select(claims.c.id, claims.c.tenant_id, claims.c.status, claims.c.paid_amount)
        .where(claims.c.id == claim_id, claims.c.tenant_id == ctx.tenant_id).with_for_update())).first()
    if row is None:
        raise PermanentEventError("remittance outcome for a claim this service does not know")
    return row


async def on_claim_payment_posted(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    """Move the claim to paid, partially paid or denied; an illegal move is logged and recorded, not applied.
    The money is added to the claim either way: it was paid."""
    claim = await _locked_claim(ctx, event.claim_id)
    target = status_for_outcome(event.outcome)
    paid_total = claim.paid_amount + event.paid_amount
    applied = await move_claim(
        ctx.conn, claim, target, kind="status_changed",
        detail={"paid_amount": str(event.paid_amount), "allowed_amount": str(event.allowed_amount),
                "patient_responsibility_amount": str(event.patient_responsibility_amount),
                "outcome": event.outcome, "remittance_id": str(event.remittance_id)},
        event=ClaimStatusChanged(tenant_id=ctx.tenant_id, claim_id=event.claim_id, from_status=claim.status,
                                 to_status=target.value, paid_amount=event.paid_amount,
                                 remittance_id=event.remittance_id),
        emit=ctx.emit, paid_amount=paid_total)
    if not applied:
        await ctx.conn.execute(claims.update().where(claims.c.id == event.claim_id)
                               .values(paid_amount=paid_total, updated_at=sa.func.now()))


async def on_claim_denied(ctx: HandlerContext, event: ClaimDenied) -> None:
    """Put the denial reasons on the claim's timeline (the status came with ClaimPaymentPosted)."""
    await _locked_claim(ctx, event.claim_id)
    await _history(ctx, event.claim_id, "denial_recorded", {
        "denied_amount": str(event.denied_amount),
        "denials": [{"line_number": d.line_number, "group_code": d.group_code, "carc": d.carc, "rarcs": d.rarcs,
                     "amount": str(d.amount)} for d in event.denials],
        "remittance_id": str(event.remittance_id)})
