"""Event type -> handler for the remittance consumer group."""

from openrcm_remittance.service_layer.posting import on_claim_submitted
from openrcm_shared.contracts.claims import ClaimSubmitted
from openrcm_shared.messaging.consumer import Subscription

SUBSCRIPTIONS = [Subscription(ClaimSubmitted, on_claim_submitted)]
