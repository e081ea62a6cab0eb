"""Event type -> handler for the claims consumer group."""

from openrcm_claims.service_layer.denial_requests import on_corrected_claim_requested, on_secondary_billing_requested
from openrcm_claims.service_layer.eligibility_answers import on_coverage_changed
from openrcm_claims.service_layer.remittance_outcomes import (
    on_claim_denied, on_claim_payment_posted, on_claim_reversed, on_eligibility_checked,
)
from openrcm_claims.service_layer.status_inquiries import on_claim_follow_up_requested
from openrcm_shared.contracts.collections import ClaimFollowUpRequested
from openrcm_shared.contracts.denials import CorrectedClaimRequested, SecondaryBillingRequested
from openrcm_shared.contracts.eligibility import CoverageChanged, EligibilityChecked
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import Subscription

SUBSCRIPTIONS = [
    Subscription(EligibilityChecked, on_eligibility_checked),
    Subscription(CoverageChanged, on_coverage_changed),
    Subscription(ClaimPaymentPosted, on_claim_payment_posted),
    Subscription(ClaimDenied, on_claim_denied),
    Subscription(ClaimReversed, on_claim_reversed),
    Subscription(CorrectedClaimRequested, on_corrected_claim_requested),
    Subscription(SecondaryBillingRequested, on_secondary_billing_requested),
    Subscription(ClaimFollowUpRequested, on_claim_follow_up_requested),
]
