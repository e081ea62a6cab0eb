"""The collections service: patient balances from posted patient responsibility."""

from openrcm_collections.entrypoints.api import router
from openrcm_collections.entrypoints.follow_up_api import router as follow_up_router
from openrcm_collections.entrypoints.reports_api import router as reports_router
from openrcm_collections.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_shared.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="collections",
    title="OpenRCM collections",
    description="Patient accounts: balances and ledger lines from patient responsibility.",
    aggregate_type="patient_account",
    routers=[router, reports_router, follow_up_router],
    subscriptions=SUBSCRIPTIONS,
)

app = create_service_app(DEFINITION)
