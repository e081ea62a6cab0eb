"""Event type -> handler for the collections consumer group."""

from openrcm_collections.service_layer.accounts import (
    on_claim_payment_posted, on_claim_reversed, on_claim_submitted, on_denial_transferred_to_patient,
    on_next_payer_claim_created, submitted_claims_written,
)
from openrcm_collections.receivables.subscriptions import with_receivables
from openrcm_shared.contracts.claims import ClaimSubmitted, NextPayerClaimCreated
from openrcm_shared.contracts.denials import DenialTransferredToPatient
from openrcm_shared.contracts.remittance import ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import Handler, HandlerContext, Subscription


def _after_submissions_written(handler: Handler) -> Handler:
    """`handler`, once the run's submissions so far are in bill_claims (on_claim_submitted defers them)."""
    async def written_first(ctx: HandlerContext, event) -> None:
        await submitted_claims_written(ctx)
        await handler(ctx, event)
    return written_first


def _submissions_written_first(subscriptions: list[Subscription]) -> list[Subscription]:
    return [s if s.contract is ClaimSubmitted else Subscription(s.contract, _after_submissions_written(s.handler))
            for s in subscriptions]


# The insurance receivables (A/R) follow the same events, each applied after the account's handler in
# its transaction, plus the claim-status events only they need (receivables.subscriptions).
SUBSCRIPTIONS = _submissions_written_first(with_receivables([
    Subscription(ClaimSubmitted, on_claim_submitted),
    Subscription(NextPayerClaimCreated, on_next_payer_claim_created),
    Subscription(ClaimPaymentPosted, on_claim_payment_posted),
    Subscription(ClaimReversed, on_claim_reversed),
    Subscription(DenialTransferredToPatient, on_denial_transferred_to_patient)]))
