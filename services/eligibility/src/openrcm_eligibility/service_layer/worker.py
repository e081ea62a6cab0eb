"""The worker: sends the checks that are due (queued by a batch, left by a request that timed out,
or waiting out a backoff), each as its practice, at most `payer_concurrency` per payer at once."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from openrcm_eligibility.adapters.tables import pending_checks
from openrcm_eligibility.service_layer.checks import attempt, exchanger
from openrcm_shared.security.context import acting_for

log = logging.getLogger(__name__)


async def lease_due_checks(system_engine, *, limit: int, lease_seconds: float) -> list[tuple]:
    """Take up to `limit` due checks (check id, practice), moving their due time past the lease so
    no other poll takes them; SKIP LOCKED lets several workers share the queue."""
    now = datetime.now(timezone.utc)
    due = (sa.select(pending_checks.c.check_id).where(pending_checks.c.due_at <= now)
           .order_by(pending_checks.c.due_at).limit(limit).with_for_update(skip_locked=True).scalar_subquery())
    async with system_engine.begin() as conn:
        rows = (await conn.execute(
            pending_checks.update().where(pending_checks.c.check_id.in_(due))
            .values(due_at=now + timedelta(seconds=lease_seconds))
            .returning(pending_checks.c.check_id, pending_checks.c.tenant_id))).all()
    return [tuple(row) for row in rows]


async def run_pending_checks(runtime) -> None:
    """Poll the queue forever; each leased check is attempted in its own task (the per-payer limit
    in `attempt` bounds what reaches each payer, `worker_concurrency` what this process holds)."""
    deps = exchanger()
    settings = deps.settings
    if deps.exchange is None:
        log.info("no clearinghouse configured (OPENRCM_ELIGIBILITY_CLEARINGHOUSE_URL): checks stay pending")
        await asyncio.Event().wait()
    in_flight: set[asyncio.Task] = set()
    max_in_flight = settings.worker_concurrency
    while True:
        room = max_in_flight - len(in_flight)
        leased = await lease_due_checks(runtime.system_engine, limit=room,
                                        lease_seconds=settings.exchange_timeout_seconds + 5) if room > 0 else []
        for check_id, tenant_id in leased:
            task = asyncio.create_task(_attempt_as(runtime, check_id, tenant_id, settings.exchange_timeout_seconds))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if not leased:
            await asyncio.sleep(settings.poll_interval_seconds)
        elif len(in_flight) >= max_in_flight:
            await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)


async def _attempt_as(runtime, check_id, tenant_id: str, timeout: float) -> None:
    with acting_for(tenant_id):
        try:
            await attempt(runtime.engine, check_id, timeout)
            runtime.events_staged()
        except Exception:  # one check's failure must not stop the others; it is due again after its lease
            log.exception("eligibility attempt failed", extra={"check_id": str(check_id)})
