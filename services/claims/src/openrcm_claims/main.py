"""The claims service: encounters become claims; remittance outcomes move them along."""

from openrcm_claims.entrypoints.api import router
from openrcm_claims.entrypoints.fhir_api import router as fhir_router
from openrcm_claims.entrypoints.parties_api import router as parties_router
from openrcm_claims.entrypoints.reference_api import router as reference_router
from openrcm_claims.entrypoints.webhooks import router as webhooks_router
from openrcm_claims.entrypoints.subscriptions import SUBSCRIPTIONS
import asyncio
import gc

from openrcm_claims.adapters.clearinghouse import HttpClearinghouse
from openrcm_claims.adapters.retention import CLEARINGHOUSE_DELIVERIES
from openrcm_claims.service_layer.acknowledgements import apply_pending_deliveries
from openrcm_claims.service_layer.batches import run_submission_loop
from openrcm_claims.service_layer.follow_up import run_follow_up_loop
from openrcm_claims.service_layer.scrubbing import warm_code_sets
from openrcm_claims.settings import SubmissionSettings
from openrcm_shared.service import ServiceDefinition, create_service_app


async def load_code_sets(runtime) -> None:
    """Load the shipped code sets and the CMS files configured (CodeSetSettings) at start-up, and
    stay up: a file that cannot be loaded stops this task, /readyz names it while it is tried
    again, and /livez fails once it has failed too often (openrcm_shared.supervisor)."""
    await asyncio.to_thread(warm_code_sets)
    # The code sets are most of this process's long-lived objects (~150 000 more for the cyclic
    # garbage collector): a full collection walked them in 100-300 ms, stalling every request in
    # flight. Frozen, they are left out of collections; they live as long as the process anyway.
    gc.freeze()
    await asyncio.Event().wait()


async def submit_ready_claims(runtime) -> None:
    await asyncio.to_thread(warm_code_sets)
    settings = SubmissionSettings()
    clearinghouse = HttpClearinghouse(settings.clearinghouse_url) if settings.clearinghouse_url else None
    try:
        await run_submission_loop(runtime, settings, clearinghouse)
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
    routers=[router, reference_router, parties_router, fhir_router],
    webhook_routers=[webhooks_router],
    subscriptions=SUBSCRIPTIONS,
    every_process={"code_sets": load_code_sets},
    background={"submission_batches": submit_ready_claims, "deadline_watch": watch_deadlines,
                "pending_acknowledgements": apply_pending_deliveries},
    retention=[CLEARINGHOUSE_DELIVERIES],
)

app = create_service_app(DEFINITION)
