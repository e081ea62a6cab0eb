"""The remittance service: payer payments posted line by line and turned into per-claim events."""

from openrcm_remittance.adapters.retention import REMITTANCE_FILES
from openrcm_remittance.entrypoints.api import router
from openrcm_remittance.entrypoints.code_set_api import router as code_set_router
from openrcm_remittance.entrypoints.deposit_api import router as deposit_router
from openrcm_remittance.entrypoints.fee_schedule_api import router as fee_schedule_router
from openrcm_remittance.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_remittance.entrypoints.webhooks import router as webhooks_router
from openrcm_remittance.service_layer.clearinghouse_eras import take_missed_eras
from openrcm_remittance.service_layer.posting_workers import keep_workers
from openrcm_remittance.service_layer.worker import post_eras_whose_claims_arrived, post_pending_files
from openrcm_shared.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="remittance",
    title="OpenRCM remittance",
    description="Payment posting: remittances balanced, matched to claims and posted; outcomes published per claim.",
    aggregate_type="remittance",
    # Fixed paths (/v1/remittances/variances, /unreassociated) before /v1/remittances/{remittance_id}.
    routers=[fee_schedule_router, deposit_router, router, code_set_router],
    webhook_routers=[webhooks_router],
    subscriptions=SUBSCRIPTIONS,
    background={"stored_files": post_pending_files, "posting_workers": keep_workers,
                "held_eras_waiting_for_claims": post_eras_whose_claims_arrived, "clearinghouse_mailbox": take_missed_eras},
    retention=[REMITTANCE_FILES],
)

app = create_service_app(DEFINITION)
