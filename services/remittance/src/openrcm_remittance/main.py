"""The remittance service: payer payments posted line by line and turned into per-claim events."""

from openrcm_remittance.entrypoints.api import router
from openrcm_remittance.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_shared.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="remittance",
    title="OpenRCM remittance",
    description="Payment posting: remittances balanced, matched to claims and posted; outcomes published per claim.",
    aggregate_type="remittance",
    routers=[router],
    subscriptions=SUBSCRIPTIONS,
)

app = create_service_app(DEFINITION)
