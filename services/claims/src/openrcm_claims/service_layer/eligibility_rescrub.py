"""A payer's eligibility answer that changes what the scrubber's ELIG.* rules decide for a date of
service, applied to the claims already taken (service_layer.eligibility_answers keeps the answers)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import claim_lines, claims, scrub_results
from openrcm_claims.domain.lifecycle import ClaimStatus
from openrcm_claims.service_layer.claim_locks import lock_claims_for
from openrcm_claims.service_layer.holds import GENERATOR_RULE_SET
from openrcm_claims.service_layer.scrubbing import scrub_again
from openrcm_claims.service_layer.transitions import note_on_timeline
from openrcm_shared.contracts.claims import ClaimDenialExpected
from openrcm_shared.contracts.eligibility import EligibilityChecked
from openrcm_shared.messaging.consumer import HandlerContext

# Not yet sent: a changed answer scrubs them again. Sent (the payer has the claim or soon will, and
# has not decided): not recalled, but a denial is to be expected when the coverage is inactive.
WAITING_STATUSES = (ClaimStatus.HELD, ClaimStatus.READY)
SENT_STATUSES = (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, ClaimStatus.ACCEPTED_BY_PAYER)


async def act_on_changed_answer(ctx: HandlerContext, event: EligibilityChecked) -> None:
    """The payer's answer for a date of service changed what the ELIG.* rules decide: the claims
    of that patient and payer still waiting to go out (ready, or held by the scrubber) are scrubbed again (held
    with ELIG.COVERAGE_INACTIVE, or released when the coverage is active again); a claim already
    sent is not recalled, but when the coverage is now inactive it is announced as likely to be
    denied (ClaimDenialExpected) and noted on its timeline."""
    # A claim held by something other than the scrubber (the 837 generator refused it, or the
    # clearinghouse its file) waits for a person: scrubbing it again would release it unseen.
    held_by_scrubber = sa.and_(scrub_results.c.blocked.is_(True),
                               scrub_results.c.rule_set_version != GENERATOR_RULE_SET)
    rows = await lock_claims_for(ctx, (
        sa.select(claims, held_by_scrubber.label("held_by_scrubber"))
        .outerjoin(scrub_results, sa.and_(scrub_results.c.claim_id == claims.c.id,
                                          scrub_results.c.version == claims.c.version))
        .where(claims.c.tenant_id == event.tenant_id, claims.c.patient_id == event.patient_id,
               claims.c.payer_id == event.payer_id, claims.c.service_date_from <= event.service_date,
               claims.c.service_date_to >= event.service_date,
               claims.c.status.in_([s.value for s in WAITING_STATUSES + SENT_STATUSES]))))
    for claim in sorted(rows, key=lambda row: (row.created_at, row.id)):  # locked by id, acted on oldest first
        status = ClaimStatus(claim.status)
        if status == ClaimStatus.READY or (status == ClaimStatus.HELD and claim.held_by_scrubber):
            await scrub_again(ctx.conn, claim, emit=ctx.emit)
        elif not event.coverage_active and await _bills_date(ctx.conn, claim.id, event.service_date):
            await _expect_denial(ctx, claim, event)


async def _bills_date(conn: AsyncConnection, claim_id, service_date: date) -> bool:
    return bool((await conn.execute(sa.select(sa.exists().where(
        claim_lines.c.claim_id == claim_id, claim_lines.c.service_date == service_date)))).scalar())


async def _expect_denial(ctx: HandlerContext, claim, event: EligibilityChecked) -> None:
    [envelope] = await ctx.emit(ClaimDenialExpected(
        tenant_id=claim.tenant_id, claim_id=claim.id, payer_id=claim.payer_id, status=claim.status,
        reason="coverage_inactive", eligibility_check_id=event.check_id, service_date=event.service_date))
    await note_on_timeline(ctx, claim.id, "denial_expected", {
        "reason": "coverage_inactive", "eligibility_check_id": str(event.check_id),
        "service_date": event.service_date.isoformat()}, event_id=envelope.id)
