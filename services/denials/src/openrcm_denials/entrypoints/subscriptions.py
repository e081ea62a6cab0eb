"""Event type -> handler for the denials consumer group."""

from openrcm_denials.service_layer import claim_timeline as timeline
from openrcm_denials.service_layer.cases import on_claim_denied
from openrcm_denials.service_layer.expected_denials import on_claim_denial_expected
from openrcm_denials.service_layer.settlements import on_claim_payment_posted, on_claim_reversed
from openrcm_shared.contracts.claims import (
    ClaimAcceptedByClearinghouse, ClaimAcceptedByPayer, ClaimDenialExpected, ClaimRejected, ClaimStatusChanged,
    ClaimSubmitted,
)
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import Subscription

SUBSCRIPTIONS = [Subscription(ClaimDenied, on_claim_denied), Subscription(ClaimReversed, on_claim_reversed),
                 Subscription(ClaimPaymentPosted, on_claim_payment_posted),
                 Subscription(ClaimSubmitted, timeline.on_claim_submitted),
                 Subscription(ClaimAcceptedByClearinghouse, timeline.on_claim_accepted_by_clearinghouse),
                 Subscription(ClaimAcceptedByPayer, timeline.on_claim_accepted_by_payer),
                 Subscription(ClaimRejected, timeline.on_claim_rejected),
                 Subscription(ClaimStatusChanged, timeline.on_claim_status_changed),
                 # Also opens the expected-denial item (the claim's timeline records it first).
                 Subscription(ClaimDenialExpected, on_claim_denial_expected)]
