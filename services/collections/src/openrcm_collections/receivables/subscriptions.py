"""The receivables' event handlers, joined to the collections consumer's own.

The consumer takes one handler per event type; ClaimPaymentPosted, ClaimReversed and DenialTransferredToPatient
already move the patient's account, so for those the receivable handler runs after the account's, in the same
transaction (one inbox row, all effects or none).
"""

from __future__ import annotations

from openrcm_collections.receivables import projection
from openrcm_shared.contracts.claims import (
    ClaimFlaggedForFollowUp, ClaimHeld, ClaimRejected, ClaimStatusChanged, ClaimStatusInquiryAnswered, ClaimSubmitted,
    NextPayerClaimCreated,
)
from openrcm_shared.contracts.denials import DenialTransferredToPatient, DenialWrittenOff
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import Handler, HandlerContext, Subscription

RECEIVABLE_SUBSCRIPTIONS = [
    Subscription(ClaimSubmitted, projection.on_claim_submitted),
    Subscription(NextPayerClaimCreated, projection.on_next_payer_claim_created),
    Subscription(ClaimStatusChanged, projection.on_claim_status_changed),
    Subscription(ClaimRejected, projection.on_claim_rejected),
    Subscription(ClaimHeld, projection.on_claim_held),
    Subscription(ClaimFlaggedForFollowUp, projection.on_claim_flagged_for_follow_up),
    Subscription(ClaimStatusInquiryAnswered, projection.on_claim_status_inquiry_answered),
    Subscription(ClaimPaymentPosted, projection.on_claim_payment_posted),
    Subscription(ClaimDenied, projection.on_claim_denied),
    Subscription(ClaimReversed, projection.on_claim_reversed),
    Subscription(DenialWrittenOff, projection.on_denial_written_off),
    Subscription(DenialTransferredToPatient, projection.on_denial_transferred_to_patient),
]


def _in_turn(first: Handler, then: Handler) -> Handler:
    async def both(ctx: HandlerContext, event) -> None:
        await first(ctx, event)
        await then(ctx, event)
    return both


def with_receivables(subscriptions: list[Subscription]) -> list[Subscription]:
    """`subscriptions` with the receivables' handlers added (after the existing one of a type)."""
    by_type = {s.contract.event_type: s for s in subscriptions}
    for extra in RECEIVABLE_SUBSCRIPTIONS:
        existing = by_type.get(extra.contract.event_type)
        by_type[extra.contract.event_type] = extra if existing is None else Subscription(
            existing.contract, _in_turn(existing.handler, extra.handler))
    return list(by_type.values())
