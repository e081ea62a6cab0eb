"""The claims service: encounters become claims; remittance outcomes move them along."""

from collections.abc import Coroutine

from openrcm_claims.entrypoints.api import router
from openrcm_claims.entrypoints.fhir_api import router as fhir_router
from openrcm_claims.entrypoints.parties_api import router as parties_router
from openrcm_claims.entrypoints.code_sets_api import router as code_sets_router
from openrcm_claims.entrypoints.reference_api import router as reference_router
from openrcm_claims.entrypoints.webhooks import router as webhooks_router
from openrcm_claims.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_claims.adapters.clearinghouse import HttpClearinghouse
from openrcm_claims.adapters.retention import CLEARINGHOUSE_DELIVERIES
from openrcm_claims.service_layer.acknowledgements import apply_pending_deliveries, take_missed_acknowledgements
from openrcm_claims.service_layer.batches import run_submission_loop
from openrcm_claims.service_layer.follow_up import run_follow_up_loop
from openrcm_claims.service_layer.status_inquiries import run_status_inquiry_loop
from openrcm_claims.service_layer.code_sets_in_force import IN_FORCE
from openrcm_claims.settings import CodeSetSettings, SubmissionSettings
from openrcm_shared.service import ServiceDefinition, create_service_app


def keep_code_sets_in_force(runtime) -> Coroutine[None, None, None]:
    """Load the shipped code sets, the CMS files configured (CodeSetSettings) and the imported ones
    in force, then load each change as it comes (code_sets_in_force): a configured file that
    cannot be loaded stops this task, /readyz names it while it is tried again, and /livez fails once
    it has failed too often (openrcm_shared.supervisor). Claims wait for the first load from
    the moment the task is created, before the app takes requests."""
    IN_FORCE.starting()
    return IN_FORCE.run(runtime.engine, CodeSetSettings())


async def submit_ready_claims(runtime) -> None:
    settings = SubmissionSettings()
    clearinghouse = HttpClearinghouse(settings.clearinghouse_url) if settings.clearinghouse_url else None
    try:
        await run_submission_loop(runtime, settings, clearinghouse)
    finally:
        if clearinghouse is not None:
            await clearinghouse.close()


async def ask_claim_status(runtime) -> None:
    settings = SubmissionSettings()
    clearinghouse = HttpClearinghouse(settings.clearinghouse_url) if settings.clearinghouse_url else None
    try:
        await run_status_inquiry_loop(runtime, settings, clearinghouse, settings.status_inquiry_interval_seconds)
    finally:
        if clearinghouse is not None:
            await clearinghouse.close()


async def watch_deadlines(runtime) -> None:
    await run_follow_up_loop(runtime, SubmissionSettings().follow_up_interval_seconds)


DEFINITION = ServiceDefinition(
    name="claims",
    title="OpenRCM claims",
    description="Charge intake from EHRs, claims and their lifecycle.",
    aggregate_type="claim",
    # Intake first: a request is matched against the routes in order (FastAPI tries each in turn,
    # ~30 of them for a FHIR Claim behind the registries: ~7 % of the API's CPU for one).
    routers=[router, fhir_router, reference_router, parties_router, code_sets_router],
    webhook_routers=[webhooks_router],
    subscriptions=SUBSCRIPTIONS,
    every_process={"code_sets": keep_code_sets_in_force},
    background={"submission_batches": submit_ready_claims, "deadline_watch": watch_deadlines,
                "pending_acknowledgements": apply_pending_deliveries, "status_inquiries": ask_claim_status,
                "clearinghouse_mailbox": take_missed_acknowledgements},
    retention=[CLEARINGHOUSE_DELIVERIES],
)

app = create_service_app(DEFINITION)
