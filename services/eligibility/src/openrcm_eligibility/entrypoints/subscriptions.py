"""Event type -> handler."""

from openrcm_eligibility.service_layer.coverages import (
    on_claim_denied, on_coverage_registered, on_fee_schedule_rates_published, on_fee_schedule_replaced,
)
from openrcm_shared.contracts.claims import CoverageRegistered
from openrcm_shared.contracts.remittance import ClaimDenied, FeeScheduleRatesPublished, FeeScheduleReplaced
from openrcm_shared.messaging.consumer import Subscription

SUBSCRIPTIONS = [
    Subscription(CoverageRegistered, on_coverage_registered),
    Subscription(ClaimDenied, on_claim_denied),
    Subscription(FeeScheduleReplaced, on_fee_schedule_replaced),
    Subscription(FeeScheduleRatesPublished, on_fee_schedule_rates_published),
]
