"""The claims service: encounters become claims; remittance outcomes move them along."""

from openrcm_claims.entrypoints.api import router
from openrcm_claims.entrypoints.reference_api import router as reference_router
from openrcm_claims.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_shared.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="claims",
    title="OpenRCM claims",
    description="Charge intake from EHRs, claims and their lifecycle.",
    aggregate_type="claim",
    routers=[router, reference_router],
    subscriptions=SUBSCRIPTIONS,
)

app = create_service_app(DEFINITION)
