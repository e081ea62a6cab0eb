"""Event type -> handler for the collections consumer group."""

from openrcm_collections.service_layer.accounts import (
    on_claim_payment_posted, on_claim_reversed, on_claim_submitted, on_denial_transferred_to_patient,
    on_next_payer_claim_created,
)
from openrcm_collections.receivables.subscriptions import with_receivables
from openrcm_shared.contracts.claims import ClaimSubmitted, NextPayerClaimCreated
from openrcm_shared.contracts.denials import DenialTransferredToPatient
from openrcm_shared.contracts.remittance import ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import Subscription

# The insurance receivables (A/R) follow the same events, each applied after the account's handler in
# its transaction, plus the claim-status events only they need (receivables.subscriptions).
SUBSCRIPTIONS = with_receivables([Subscription(ClaimSubmitted, on_claim_submitted),
                                   Subscription(NextPayerClaimCreated, on_next_payer_claim_created),
                                   Subscription(ClaimPaymentPosted, on_claim_payment_posted),
                                   Subscription(ClaimReversed, on_claim_reversed),
                                   Subscription(DenialTransferredToPatient, on_denial_transferred_to_patient)])
