"""One process of a service does a piece of work (publishing the outbox, pruning) while it holds a
PostgreSQL session-level advisory lock; the others stand by.

The lock belongs to the connection that took it and goes when that connection goes, so releasing
it on a connection that has died is not an error to wait on or to raise: the lock is gone already.
An error raised while releasing must not replace the one that ended the work either, above all a
cancellation (the process shutting down), which the work's retry loop would otherwise swallow.
"""

from __future__ import annotations

import asyncio
import logging
import zlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)


def lock_id(purpose: str, service_name: str) -> int:
    """A lock id per purpose and service database; crc32 is stable across processes (hash() is not)."""
    return zlib.crc32(f"openrcm-{purpose}:{service_name}".encode())


async def try_lock(conn: AsyncConnection, lock: int) -> bool:
    """Take the lock on `conn` if it is free; True when taken (held until released or `conn` closes)."""
    acquired = (await conn.execute(sa.select(sa.func.pg_try_advisory_lock(lock)))).scalar()
    await conn.commit()
    return bool(acquired)


async def release_lock(conn: AsyncConnection, lock: int) -> None:
    """Release the lock taken on `conn`; never raises (a dead connection took the lock with it)."""
    try:
        await conn.execute(sa.select(sa.func.pg_advisory_unlock(lock)))
        await conn.commit()
    except Exception as exc:
        log.info("advisory lock released with its connection", extra={"error_class": type(exc).__name__})


def being_cancelled() -> bool:
    """Whether the current task has been asked to stop: a retry loop that caught an error raised
    on the way out must stop rather than retry."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
