"""Event type -> handler."""

from openrcm_eligibility.service_layer.coverages import on_claim_denied, on_coverage_registered
from openrcm_shared.contracts.claims import CoverageRegistered
from openrcm_shared.contracts.remittance import ClaimDenied
from openrcm_shared.messaging.consumer import Subscription

SUBSCRIPTIONS = [
    Subscription(CoverageRegistered, on_coverage_registered),
    Subscription(ClaimDenied, on_claim_denied),
]
