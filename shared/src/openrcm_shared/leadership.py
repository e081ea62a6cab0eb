"""One leader per service database, by PostgreSQL session advisory lock: the outbox relay, the
audit chainer and the retention pruner run in every worker process, and only the process holding
the work's lock does it; the others stand by.

Guarantees:
- `AdvisoryLockLeadership.run` runs `lead` only while this process holds the lock, on the
  connection that holds it (so the lock goes when the connection does: a crashed leader's session
  ends and another process takes over); the others try again every second. `confirm` asks
  PostgreSQL whether that connection still holds the lock, for work that must stop the moment it
  does not (a failover or network cut ended the session and another process may lead already).
- Releasing the lock on a connection that has died is not an error to wait on or to raise: the
  lock went with the connection. An error raised while releasing never replaces the one that ended
  the work, above all a cancellation (the process shutting down), which a retry loop would
  otherwise swallow.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

T = TypeVar("T")

# Whether this connection still holds an advisory lock. A bigint key shows in pg_locks as classid
# (high 32 bits) and objid (low 32 bits) with objsubid 1 (PostgreSQL docs, "pg_locks").
# Asked on the driver's connection, with a timeout: a connection cut off without a word must not
# keep the leader waiting (and leading) for ever.
_HOLDS_LOCK = ("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
               "AND granted AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1)")
_CONFIRM_TIMEOUT_SECONDS = 5


class LeadershipLost(Exception):
    """The connection that took the advisory lock no longer holds it."""


def lock_id(lock_name: str) -> int:
    """The lock id of a name; crc32 is stable across processes (hash() is not)."""
    return zlib.crc32(lock_name.encode())


# A lock is one bigint (a name's lock_id) or two int4s (object_lock: one object of a kind); the two
# forms are separate key spaces in PostgreSQL, so an object's lock never meets a named one.
LockKey = int | tuple[int, int]


def object_lock(kind: str, object_id: UUID) -> tuple[int, int]:
    """The lock of one object of a kind (e.g. one stored file): (crc32 of the kind, the id's low 32
    bits), both as signed int4. Two objects sharing low bits only make one wait for the other."""
    return _int4(zlib.crc32(kind.encode())), _int4(object_id.int & 0xFFFFFFFF)


def _int4(unsigned: int) -> int:
    return unsigned - (1 << 32) if unsigned >= (1 << 31) else unsigned


def _key(lock: LockKey) -> tuple:
    return tuple(sa.literal(part, sa.Integer) for part in lock) if isinstance(lock, tuple) else (lock,)


async def try_lock(conn: AsyncConnection, lock: LockKey) -> bool:
    """Take the lock on `conn` if it is free; True when taken (held until released or `conn` closes)."""
    acquired = (await conn.execute(sa.select(sa.func.pg_try_advisory_lock(*_key(lock))))).scalar()
    await conn.commit()
    return bool(acquired)


async def release_lock(conn: AsyncConnection, lock: LockKey) -> None:
    """Release the lock taken on `conn`; never raises (a dead connection took the lock with it)."""
    try:
        await conn.execute(sa.select(sa.func.pg_advisory_unlock(*_key(lock))))
        await conn.commit()
    except Exception as exc:
        log.info("advisory lock released with its connection", extra={"error_class": type(exc).__name__})


@asynccontextmanager
async def holding_lock(engine: AsyncEngine, lock: LockKey) -> AsyncIterator[bool]:
    """Yield whether this process took `lock` (on a connection of its own, kept for the block) and
    release it after. Work done under it is one process's at a time, and a process that dies lets
    go at once: the lock ends with its session, so no lease has to run out before another process
    takes the work over."""
    async with engine.connect() as lock_conn:
        taken = await try_lock(lock_conn, lock)
        try:
            yield taken
        finally:
            if taken:
                await release_lock(lock_conn, lock)


def being_cancelled() -> bool:
    """Whether the current task has been asked to stop: a retry loop that caught an error raised
    on the way out must stop rather than retry."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class AdvisoryLockLeadership:
    def __init__(self, engine: AsyncEngine, lock_name: str, *, role: str,
                 fatal: tuple[type[BaseException], ...] = ()) -> None:
        self.engine = engine
        self.lock_id = lock_id(lock_name)  # one lock id per name and database
        self.role = role  # what leads, for the log
        # Errors `run` must not retry: the work cannot go on in this process (see the relay).
        self.fatal = fatal
        self.holds_lock = False

    async def run(self, lead: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        """Run `lead(lock_conn)` whenever this process holds the lock, until cancelled; survives
        database outages, a lost lock (and a `lead` that fails) by backing off, 0.2 s doubling up
        to 5 s. Raises only a cancellation, or one of the `fatal` errors."""
        backoff = 0.2
        while True:
            try:
                await self._lead_if_leader(lead)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except self.fatal:
                raise
            except Exception as exc:  # database unavailable, lock lost: wait and take the lock again
                if being_cancelled():  # an error on the way out: stop, as asked
                    raise asyncio.CancelledError() from exc
                log.warning(f"{self.role} interrupted, retrying", extra={"error_class": type(exc).__name__})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def run_once(self, work: Callable[[], Awaitable[T]]) -> T | None:
        """Run `work()` once if this process can take the lock, holding it meanwhile; None when
        another process holds it."""
        async with holding_lock(self.engine, self.lock_id) as taken:
            return await work() if taken else None

    async def confirm(self, lock_conn: AsyncConnection) -> None:
        """One round trip on the lock's own connection: raises LeadershipLost (or the connection's
        error) unless it still holds the lock."""
        driver_connection = (await lock_conn.get_raw_connection()).driver_connection  # asyncpg
        if not await driver_connection.fetchval(_HOLDS_LOCK, self.lock_id, timeout=_CONFIRM_TIMEOUT_SECONDS):
            self.holds_lock = False
            log.error(f"{self.role} no longer holds its lock; stopped")
            raise LeadershipLost()

    async def _lead_if_leader(self, lead: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        async with self.engine.connect() as lock_conn:
            if not await try_lock(lock_conn, self.lock_id):
                await asyncio.sleep(1.0)
                return
            self.holds_lock = True
            try:
                await lead(lock_conn)
            finally:
                self.holds_lock = False
                await release_lock(lock_conn, self.lock_id)
