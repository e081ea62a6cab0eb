"""The eligibility service: 270s to payers through the clearinghouse, 271s normalized, coverage
answers announced to the rest of the cycle."""

from openrcm_eligibility.adapters.retention import ELIGIBILITY_RESPONSE_FILES
from openrcm_eligibility.entrypoints.api import router
from openrcm_eligibility.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_eligibility.service_layer.worker import run_pending_checks
from openrcm_shared.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="eligibility",
    title="OpenRCM eligibility",
    description="Eligibility and benefits: 270/271 in real time and in batches, normalized answers, a cache per "
                "coverage and date of service.",
    aggregate_type="eligibility_check",
    routers=[router],
    subscriptions=SUBSCRIPTIONS,
    background={"eligibility_exchanges": run_pending_checks},
    retention=[ELIGIBILITY_RESPONSE_FILES],
)

app = create_service_app(DEFINITION)
