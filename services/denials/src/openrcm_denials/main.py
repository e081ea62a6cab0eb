"""The denials service: denial cases opened from remittances, categorized, ranked and worked."""

from openrcm_denials.entrypoints.api import router
from openrcm_denials.entrypoints.reports import router as reports_router
from openrcm_denials.entrypoints.appeals_api import router as appeals_router
from openrcm_denials.entrypoints.expected_denials_api import router as expected_denials_router
from openrcm_denials.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_denials.service_layer.passes import run_worklist_passes
from openrcm_shared.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="denials",
    title="OpenRCM denials",
    description=("Denial cases categorized by reason, ranked by priority and worked to an outcome; denial trends; "
                 "expected denials (claims an eligibility answer says the payer will deny)."),
    aggregate_type="denial_case",
    # The reports first: /v1/denials/summary and /trends before /v1/denials/{case_id}.
    routers=[reports_router, router, appeals_router, expected_denials_router],
    subscriptions=SUBSCRIPTIONS,
    background={"worklist_passes": run_worklist_passes},
)

app = create_service_app(DEFINITION)
