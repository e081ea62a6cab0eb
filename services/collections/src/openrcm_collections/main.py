"""The collections service: patient accounts (what each patient owes after the payers, under
coordination of benefits), payments, refunds, adjustments, payment plans, statements and dunning."""

from openrcm_collections.adapters.payment_processor import SimulatedProcessor
from openrcm_collections.entrypoints.adjustments_api import router as adjustments_router
from openrcm_collections.entrypoints.api import router
from openrcm_collections.entrypoints.payments_api import router as payments_router
from openrcm_collections.entrypoints.payments_api import webhook_router
from openrcm_collections.entrypoints.plans_api import router as plans_router
from openrcm_collections.entrypoints.statements_api import router as statements_router
from openrcm_collections.entrypoints.follow_up_api import router as follow_up_router
from openrcm_collections.entrypoints.reports_api import router as reports_router
from openrcm_collections.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_collections.receivables.month_end import run_month_end_closer
from openrcm_collections.service_layer.scheduler import run_scheduler
from openrcm_shared.service import ServiceDefinition, create_service_app

# The payment-processor port: the local simulator (approvals, declines, network errors by token).
PROCESSOR = SimulatedProcessor()

DEFINITION = ServiceDefinition(
    name="collections",
    title="OpenRCM collections",
    description="Patient accounts: balances explained line by line, payments, adjustments, plans, statements.",
    aggregate_type="patient_account",
    routers=[router, payments_router, adjustments_router, plans_router, statements_router, reports_router,
             follow_up_router],
    webhook_routers=[webhook_router],
    subscriptions=SUBSCRIPTIONS,
    background={"payment_plan_scheduler": lambda runtime: run_scheduler(runtime, PROCESSOR),
                # closes each practice's A/R months for the aging report (receivables.month_end)
                "month_end_closer": run_month_end_closer},
)

app = create_service_app(DEFINITION)
app.state.payment_processor = PROCESSOR
