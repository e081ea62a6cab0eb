"""Event type -> handler for the denials consumer group."""

from openrcm_denials.service_layer.cases import on_claim_denied, on_claim_payment_posted, on_claim_reversed
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import Subscription

SUBSCRIPTIONS = [Subscription(ClaimPaymentPosted, on_claim_payment_posted), Subscription(ClaimDenied, on_claim_denied),
                 Subscription(ClaimReversed, on_claim_reversed)]
