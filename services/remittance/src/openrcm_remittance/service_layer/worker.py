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


# An unassigned ERA is tried again after this long, doubling while its claims stay unknown.
FIRST_RETRY_SECONDS, LAST_RETRY_SECONDS = 5.0, 600.0


async def attribute_unassigned_eras(runtime) -> None:
    """Held webhook ERAs whose claims were unknown are attributed to their practice, and posted,
    once the claims are known (the claim was held by the scrubber when the payer's ERA came)."""
    next_try: dict[UUID, tuple[float, float]] = {}  # remittance -> (when, current delay)
    while True:
        try:
            now = time.monotonic()
            # Work across practices (an ERA no practice owns yet): the system role's engine.
            held = await era_intake.held_unassigned_ids(runtime.system_engine)
            next_try = {rid: next_try[rid] for rid in held if rid in next_try}  # forget the attributed
            for remittance_id in held:
                when, delay = next_try.get(remittance_id, (0.0, FIRST_RETRY_SECONDS))
                if when > now:
                    continue
                if await era_intake.attribute_and_post(runtime.system_engine, remittance_id) is not None:
                    log.info("attributed and posted a held ERA", extra={"remittance_id": str(remittance_id)})
                    runtime.events_staged()
                else:
                    next_try[remittance_id] = (now + delay, min(delay * 2, LAST_RETRY_SECONDS))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("attributing held ERAs failed; retrying")
        await asyncio.sleep(POLL_SECONDS)
