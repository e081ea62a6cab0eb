"""The eligibility service: coverage answers stored and announced."""

from openrcm_eligibility.entrypoints.api import router
from openrcm_shared.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="eligibility",
    title="OpenRCM eligibility",
    description="Insurance eligibility checks (270/271 to come) and their answers.",
    aggregate_type="eligibility_check",
    routers=[router],
)

app = create_service_app(DEFINITION)
