"""The worker: sends the checks that are due (queued by a batch, left by a request that timed out,
or waiting out a backoff), each as its practice, at most `payer_concurrency` exchanges per payer at
once. Checks due together for one practice and payer go in one batch 270 (up to
`batch_inquiries`), as clearinghouses take batch eligibility: one exchange, one batch 271."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from openrcm_eligibility.adapters.tables import pending_checks
from openrcm_eligibility.service_layer.checks import attempt_together, exchanger
from openrcm_shared.security.context import acting_for

log = logging.getLogger(__name__)


# Built once: the worker polls every 0.2 s, and building this statement was most of an idle
# eligibility service's CPU.
_LEASE_DUE = (pending_checks.update()
              .where(pending_checks.c.check_id.in_(
                  sa.select(pending_checks.c.check_id).where(pending_checks.c.due_at <= sa.bindparam("now"))
                  .order_by(pending_checks.c.due_at).limit(sa.bindparam("limit"))
                  .with_for_update(skip_locked=True).scalar_subquery()))
              .values(due_at=sa.bindparam("lease_until"))
              .returning(pending_checks.c.check_id, pending_checks.c.tenant_id, pending_checks.c.payer_id))


async def lease_due_checks(system_engine, *, limit: int, lease_seconds: float) -> list[tuple]:
    """Take up to `limit` due checks (check id, practice, payer), moving their due time past the
    lease so no other poll takes them; SKIP LOCKED lets several workers share the queue."""
    now = datetime.now(timezone.utc)
    async with system_engine.begin() as conn:
        rows = (await conn.execute(_LEASE_DUE, {"now": now, "limit": limit,
                                                "lease_until": now + timedelta(seconds=lease_seconds)})).all()
    return [tuple(row) for row in rows]


async def release_checks(system_engine, check_ids: list) -> None:
    """Make leased checks due again at once (leased, but more than this poll can send)."""
    async with system_engine.begin() as conn:
        await conn.execute(pending_checks.update().where(pending_checks.c.check_id.in_(check_ids))
                           .values(due_at=datetime.now(timezone.utc)))


def exchange_groups(leased: list[tuple], size: int) -> list[tuple[str, list]]:
    """The leased checks (check id, practice, payer) as exchanges: per practice and payer, at most
    `size` checks each, in the order they were due; the payers' first exchanges come first, so one
    payer's backlog does not hold up the others."""
    by_payer: dict[tuple[str, str], list] = {}
    for check_id, tenant_id, payer_id in leased:
        by_payer.setdefault((tenant_id, payer_id), []).append(check_id)
    chunked = [[(tenant_id, ids[i:i + size]) for i in range(0, len(ids), size)]
               for (tenant_id, _), ids in by_payer.items()]
    return [group for round_ in itertools.zip_longest(*chunked) for group in round_ if group is not None]


async def run_pending_checks(runtime) -> None:
    """Poll the queue forever; each exchange (one check, or up to `batch_inquiries` checks of one
    practice and payer in a batch 270) is made in its own task. The per-payer limit in
    `attempt_together` bounds what reaches each payer at once, `worker_concurrency` the exchanges
    this process holds."""
    deps = exchanger()
    settings = deps.settings
    if deps.exchange is None:
        log.info("no clearinghouse configured (OPENRCM_ELIGIBILITY_CLEARINGHOUSE_URL): checks stay pending")
        await asyncio.Event().wait()
    in_flight: set[asyncio.Task] = set()
    max_in_flight, size = settings.worker_concurrency, max(1, settings.batch_inquiries)
    while True:
        room = max_in_flight - len(in_flight)
        leased = await lease_due_checks(runtime.system_engine, limit=room * size,
                                        lease_seconds=settings.exchange_timeout_seconds + 5) if room > 0 else []
        groups = exchange_groups(leased, size)
        for tenant_id, check_ids in groups[:room]:
            task = asyncio.create_task(_attempt_as(runtime, check_ids, tenant_id, settings.exchange_timeout_seconds))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if len(groups) > room:  # more practices and payers due than exchanges free: the rest at the next poll
            await release_checks(runtime.system_engine, [i for _, ids in groups[room:] for i in ids])
        if not leased:
            await asyncio.sleep(settings.poll_interval_seconds)
        elif len(in_flight) >= max_in_flight:
            await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)


async def _attempt_as(runtime, check_ids: list, tenant_id: str, timeout: float) -> None:
    with acting_for(tenant_id):
        try:
            await attempt_together(runtime.engine, check_ids, timeout)
            runtime.events_staged()
        except Exception:  # one exchange's failure must not stop the others; its checks are due again after their lease
            log.exception("eligibility attempt failed", extra={"check_ids": [str(i) for i in check_ids[:5]]})
