"""One leader per service database, by PostgreSQL session advisory lock: the outbox relay and the
audit chainer each run in every worker process, and only the process holding the lock works.

Guarantee: `lead` runs only while this process holds the lock, on the connection that holds it
(so the lock goes when the connection does: a crashed leader's session ends and another process
takes over); the others stand by and try again every second.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)


class AdvisoryLockLeadership:
    def __init__(self, engine: AsyncEngine, lock_name: str, *, role: str) -> None:
        self.engine = engine
        # crc32 is stable across processes (hash() is not); one lock id per name and database.
        self.lock_id = zlib.crc32(lock_name.encode())
        self.role = role  # what leads, for the log
        self.holds_lock = False

    async def run(self, lead: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        """Run `lead(lock_conn)` whenever this process holds the lock, until cancelled; survives
        database outages (and a `lead` that fails) by backing off, 0.2 s doubling up to 5 s."""
        backoff = 0.2
        while True:
            try:
                await self._lead_if_leader(lead)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database unavailable: wait and take the lock again
                self.holds_lock = False
                log.warning(f"{self.role} interrupted, retrying", extra={"error_class": type(exc).__name__})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _lead_if_leader(self, lead: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        async with self.engine.connect() as lock_conn:
            acquired = (await lock_conn.execute(sa.select(sa.func.pg_try_advisory_lock(self.lock_id)))).scalar()
            await lock_conn.commit()
            if not acquired:
                await asyncio.sleep(1.0)
                return
            self.holds_lock = True
            try:
                await lead(lock_conn)
            finally:
                self.holds_lock = False
                await lock_conn.execute(sa.select(sa.func.pg_advisory_unlock(self.lock_id)))
                await lock_conn.commit()
