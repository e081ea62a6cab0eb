"""The background worker: posts stored 835 files nobody is posting (a webhook whose request died
after the file was stored, a crash mid-posting whose claim on the file has expired)."""

from __future__ import annotations

import asyncio
import logging
import time
from uuid import UUID

from openrcm_remittance.service_layer import era_intake

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0


async def post_pending_files(runtime) -> None:
    while True:
        try:
            # Stored files of every practice (and webhook files of none yet): the system role.
            for file_id in await era_intake.pending_file_ids(runtime.system_engine):
                if await era_intake.process_file(runtime.system_engine, file_id) is not None:
                    log.info("posted stored 835 file", extra={"file_id": str(file_id)})
                    runtime.events_staged()
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be down; the files wait, stored
            log.exception("posting stored 835 files failed; retrying")
        await asyncio.sleep(POLL_SECONDS)


# A held ERA waiting for its claims is tried again after this long, doubling while it stays held.
FIRST_RETRY_SECONDS, LAST_RETRY_SECONDS = 5.0, 600.0


async def post_eras_whose_claims_arrived(runtime) -> None:
    """Held ERAs that were waiting for claims this service did not know yet are posted once it does:
    - a webhook ERA none of whose claims was known is held under `unassigned`; it is attributed to
      its practice and posted once its claims are known (the scrubber held the claim when the
      payer's ERA came, or its ClaimSubmitted was still on its way);
    - an ERA of a practice with some claims not known yet (their ClaimSubmitted was behind the
      ERA: the event stream catching up after an outage) is posted again once they are.
    Either is matched by CLP01 exactly as at the first try; nothing fuzzy posts by itself."""
    next_try: dict[UUID, tuple[float, float]] = {}  # remittance -> (when, current delay)
    while True:
        try:
            now = time.monotonic()
            # Work across practices (an ERA no practice owns yet): the system role's engine.
            engine = runtime.system_engine
            waiting = [(rid, era_intake.attribute_and_post) for rid in await era_intake.held_unassigned_ids(engine)]
            waiting += [(rid, era_intake.reprocess_remittance)
                        for rid in await era_intake.held_for_claims_now_known(engine)]
            next_try = {rid: next_try[rid] for rid, _ in waiting if rid in next_try}  # forget the posted
            for remittance_id, post in waiting:
                when, delay = next_try.get(remittance_id, (0.0, FIRST_RETRY_SECONDS))
                if when > now:
                    continue
                if not await _post_held(runtime, post, remittance_id):
                    next_try[remittance_id] = (now + delay, min(delay * 2, LAST_RETRY_SECONDS))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("posting held ERAs whose claims became known failed; retrying")
        await asyncio.sleep(POLL_SECONDS)


async def _post_held(runtime, post, remittance_id: UUID) -> bool:  # noqa: ANN001 - era_intake's posting functions
    """Post one held ERA again; True when it posted. A failure is logged and tried again later,
    without holding up the others."""
    try:
        outcome = await post(runtime.system_engine, remittance_id)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("posting a held ERA again failed; trying later", extra={"remittance_id": str(remittance_id)})
        return False
    if outcome is None:
        return False
    runtime.events_staged()  # posted, or held again (RemittanceHeld)
    if outcome.status == "posted":
        log.info("posted a held ERA whose claims became known", extra={"remittance_id": str(remittance_id)})
    return outcome.status == "posted"
