"""The denials service: denial cases opened from remittances, worked highest dollar first."""

from openrcm_denials.entrypoints.api import router
from openrcm_denials.entrypoints.appeals_api import router as appeals_router
from openrcm_denials.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_shared.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="denials",
    title="OpenRCM denials",
    description="Denial cases by reason code and dollar value, with appeal deadlines.",
    aggregate_type="denial_case",
    routers=[router, appeals_router],
    subscriptions=SUBSCRIPTIONS,
)

app = create_service_app(DEFINITION)
