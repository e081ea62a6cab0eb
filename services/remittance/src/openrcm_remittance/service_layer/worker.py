"""The background worker: posts stored 835 files nobody is posting (a webhook whose request died
after the file was stored, a crash mid-posting whose claim on the file has expired)."""

from __future__ import annotations

import asyncio
import logging

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
