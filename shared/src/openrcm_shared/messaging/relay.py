"""The outbox relay: publishes staged events to Kafka in order, then deletes them.

Guarantees:
- At least once: a row is deleted only after the broker acknowledged it with acks=all; a crash
  in between republishes the same record (same ce_id), which consumers' inboxes turn into a no-op.
- Order per key: rows are read in id (commit) order and sent through an idempotent producer,
  which keeps per-partition order; a failed send stops the batch so later rows wait.
- One relay per service: a PostgreSQL advisory lock is held while relaying; other replicas of
  the service stand by until it is free (openrcm_shared.leadership).

Why delete rather than mark published: the broker is the record of what was published (topics
keep days of events; the outbox is a queue, not a log). Marked rows kept for an hour were ~3
million at 300 claims/s, each row written twice (insert, then the update marking it) with its
index entries; every autovacuum pass walked them, for longer the longer the system ran. Now the
table holds the backlog only, and each row is written once.

Waking: writers in the relay's own process call `wake()`; writers in other processes of the
service (API processes beside a worker, see settings.ProcessRole) send a PostgreSQL NOTIFY on
`OUTBOX_CHANNEL` through `RelayWaker`, which the leading relay LISTENs to on the connection that
holds its lock. Either is only a hint: the idle poll finds rows whoever wrote them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_shared.leadership import AdvisoryLockLeadership
from openrcm_shared.messaging.tables import outbox
from openrcm_shared.observability import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)

# Each service has its own database and outbox, so one channel name serves every service.
OUTBOX_CHANNEL = "openrcm_outbox"

# Built once (they run for every batch of every service). Deleting by `id = ANY(:ids)` is one
# statement text whatever the batch size: `IN (...)` rendered a new text, and so a new prepared
# statement and plan in PostgreSQL, for every distinct number of rows.
_UNPUBLISHED = (sa.select(outbox.c.id, outbox.c.topic, outbox.c.aggregate_id, outbox.c.payload, outbox.c.headers)
                .order_by(outbox.c.id)
                .limit(sa.bindparam("batch_size")))
_DELETE_PUBLISHED = outbox.delete().where(outbox.c.id == sa.any_(sa.bindparam("ids", type_=pg.ARRAY(sa.BigInteger))))


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        *,
        service_name: str,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.5,
    ) -> None:
        self.engine = engine
        # The batch read and the delete are one statement each: run without BEGIN/COMMIT (and the
        # ROLLBACK when a read-only connection goes back to the pool), two round trips per batch
        # instead of six. The delete is atomic as a statement; the advisory lock, not row locks,
        # makes this process the only relay.
        self._single_statements = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.producer = producer
        self.service_name = service_name
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.leadership = AdvisoryLockLeadership(engine, f"openrcm-outbox-relay:{service_name}", role="outbox relay")
        self._wakeup = asyncio.Event()

    @property
    def holds_lock(self) -> bool:
        return self.leadership.holds_lock

    def wake(self) -> None:
        """Hint that rows were just staged. Every writer in this process calls it, so the idle
        poll (for rows written elsewhere) can be slow and cheap."""
        self._wakeup.set()

    async def run(self) -> None:
        """Relay until cancelled, while leader; survives database and broker outages by backing off."""
        await self.leadership.run(self._relay_while_leader)

    async def _relay_while_leader(self, lock_conn) -> None:  # noqa: ANN001 - the connection holding the lock
        listening = await self._listen(lock_conn)
        try:
            last_stats = 0.0
            while True:
                published = await self.relay_once()
                now = time.monotonic()
                if now - last_stats > 2.0:
                    await self.record_backlog()
                    last_stats = now
                if published < self.batch_size:
                    await self._idle()
        finally:
            if listening is not None:
                await _quietly(listening.remove_listener(OUTBOX_CHANNEL, self._notified))

    async def _listen(self, lock_conn):  # noqa: ANN001, ANN202 - SQLAlchemy AsyncConnection -> asyncpg connection
        """LISTEN for other processes' writes on the lock's connection (held while leading). If that
        fails, the relay still works, by its idle poll."""
        try:
            driver_connection = (await lock_conn.get_raw_connection()).driver_connection
            await driver_connection.add_listener(OUTBOX_CHANNEL, self._notified)
            return driver_connection
        except Exception as exc:
            log.warning("outbox relay cannot LISTEN; polling only", extra={"error_class": type(exc).__name__})
            return None

    def _notified(self, connection, pid, channel, payload) -> None:  # noqa: ANN001 - asyncpg listener signature
        self.wake()

    async def _idle(self) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), self.idle_poll_seconds)
        except TimeoutError:
            pass
        self._wakeup.clear()

    async def relay_once(self) -> int:
        """Publish one batch of rows; returns how many were published and deleted."""
        async with self._single_statements.connect() as conn:
            rows = (await conn.execute(_UNPUBLISHED, {"batch_size": self.batch_size})).all()
        if not rows:
            return 0
        acked = await self.publish(rows)
        if acked:
            await self.delete_published(acked)
            OUTBOX_PUBLISHED.labels(self.service_name).inc(len(acked))
        return len(acked)

    async def publish(self, rows) -> list[int]:
        """Send rows in order; return the ids of the leading rows the broker acknowledged."""
        futures = []
        for row in rows:
            headers = [(name, str(value).encode()) for name, value in row.headers.items()]
            futures.append(await self.producer.send(
                row.topic, value=row.payload, key=row.aggregate_id.encode(), headers=headers))
        acked: list[int] = []
        for row, future in zip(rows, futures):
            try:
                await future
            except Exception as exc:
                log.warning("outbox publish failed; later rows wait", extra={"error_class": type(exc).__name__})
                break
            acked.append(row.id)
        return acked

    async def delete_published(self, ids: list[int]) -> None:
        async with self._single_statements.connect() as conn:
            await conn.execute(_DELETE_PUBLISHED, {"ids": ids})

    async def record_backlog(self) -> None:
        async with self.engine.connect() as conn:
            backlog, oldest = (await conn.execute(sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)))).one()
        OUTBOX_BACKLOG.labels(self.service_name).set(backlog)
        age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self.service_name).set(age)


async def _quietly(awaitable) -> None:  # noqa: ANN001
    try:
        await awaitable
    except Exception:  # the connection is gone: so is its LISTEN
        pass


class RelayWaker:
    """Wakes the service's relay running in another process: a NOTIFY on `OUTBOX_CHANNEL` after
    events were staged, at most one per `interval` however many requests staged some (NOTIFY is
    one round trip; the relay's poll is the safety net, so a failed NOTIFY is only logged)."""

    def __init__(self, engine: AsyncEngine, *, interval: float = 0.02) -> None:
        self.engine = engine
        self.interval = interval
        self._pending = asyncio.Event()

    def wake(self) -> None:
        self._pending.set()

    async def run(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            try:
                async with self.engine.connect() as conn:
                    # On the driver connection: autocommit, so no BEGIN/COMMIT round trips around it.
                    await (await conn.get_raw_connection()).driver_connection.execute(f"NOTIFY {OUTBOX_CHANNEL}")
            except Exception as exc:
                log.warning("could not wake the outbox relay", extra={"error_class": type(exc).__name__})
            await asyncio.sleep(self.interval)
