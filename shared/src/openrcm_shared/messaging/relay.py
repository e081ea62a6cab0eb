"""The outbox relay: publishes staged events to Kafka in order, then deletes them.

Guarantees:
- At least once: a row is deleted only after the broker acknowledged it with acks=all; a crash
  in between republishes the same record (same ce_id), which consumers' inboxes turn into a no-op.
- Order per key: rows are read in id (commit) order and sent through an idempotent producer,
  which keeps per-partition order; a failed send stops the batch so later rows wait.
- One relay per service: a PostgreSQL advisory lock is held while relaying; other replicas of
  the service stand by until it is free (openrcm_shared.leadership). The lock lives as long as the connection that took it,
  so before each batch the relay asks PostgreSQL whether that connection still holds it: if the
  connection died (a failover, a network cut) the lock is gone, another replica may have it, and
  this relay stops publishing and stands by again.
- A row the broker can never take is moved to `outbox_set_aside` with an error log and
  `openrcm_outbox_set_aside_total`, instead of failing every round and holding back every later
  row; the rows after it are published. Its event never reaches the consumers: an operator must
  look (the row keeps the event whole). "Can never take" is decided before sending: a record
  larger than `max_event_bytes` (OPENRCM_OUTBOX_MAX_EVENT_BYTES, at most the smallest
  `max.message.bytes` of the service's topics) is never sent. Sending it would not do: after the
  broker refuses a record, the idempotent producer's sequence for that partition is past it and
  the broker refuses every later record there (OutOfOrderSequenceNumber). Should that happen all
  the same (a topic configured below the limit), the refused row is set aside, the relay stops
  with the error, and its supervisor's restarts, then /livez, bring a process with a new producer.

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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, OutOfOrderSequenceNumber, RecordListTooLargeError
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_shared.leadership import AdvisoryLockLeadership
from openrcm_shared.messaging.tables import outbox
from openrcm_shared.observability import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED, OUTBOX_SET_ASIDE

log = logging.getLogger(__name__)

# Each service has its own database and outbox, so one channel name serves every service.
OUTBOX_CHANNEL = "openrcm_outbox"

# Built once (they run for every batch of every service). Deleting by `id = ANY(:ids)` is one
# statement text whatever the batch size: `IN (...)` rendered a new text, and so a new prepared
# statement and plan in PostgreSQL, for every distinct number of rows.
_UNPUBLISHED = (sa.select(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.topic, outbox.c.aggregate_id,
                          outbox.c.payload, outbox.c.headers)
                .order_by(outbox.c.id)
                .limit(sa.bindparam("batch_size")))
_DELETE_PUBLISHED = outbox.delete().where(outbox.c.id == sa.any_(sa.bindparam("ids", type_=pg.ARRAY(sa.BigInteger))))

# Moved in one statement, so a row is either still in line or set aside, never both or neither.
_SET_ASIDE = sa.text(
    "WITH moved AS (DELETE FROM outbox WHERE id = ANY(:ids) RETURNING *) "
    "INSERT INTO outbox_set_aside (id, event_id, tenant_id, aggregate_type, aggregate_id, event_type, topic, "
    "payload, headers, created_at, reason) "
    "SELECT id, event_id, tenant_id, aggregate_type, aggregate_id, event_type, topic, payload, headers, created_at, "
    ":reason FROM moved ON CONFLICT DO NOTHING"
).bindparams(sa.bindparam("ids", type_=pg.ARRAY(sa.BigInteger)))

# The broker refuses the record (or the batch it is alone in: a record larger than the producer's
# batch size always travels alone) for its size, or the producer refuses to send it: it never will.
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)

# Below the producer's max_request_size (1 MiB) and Kafka's default max.message.bytes (1 MiB and
# 12 bytes), with room for the batch's own header.
DEFAULT_MAX_EVENT_BYTES = 1_000_000
# A record's size beyond its key, value and headers: the record batch header (61 bytes) and the
# record's own varints and attributes (at most ~25), as Kafka's record format v2 lays them out.
_RECORD_OVERHEAD_BYTES = 100

# The backlog is counted exactly up to this many rows (a bounded scan); beyond, it is the span of
# ids waiting (min and max are index lookups). A count(*) of the whole table every two seconds was
# a full scan, longest exactly when the backlog is large.
BACKLOG_EXACT_UP_TO = 10_000
_BACKLOG = sa.text(
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox LIMIT :cap) AS counted), "
    "(SELECT min(id) FROM outbox), (SELECT max(id) FROM outbox), "
    "(SELECT created_at FROM outbox ORDER BY id LIMIT 1)")

@dataclass
class Publication:
    """What one round of sending got: the ids the broker acknowledged, in order, the rows it can
    never take (with the reason), and the error that leaves the producer unable to send any more."""

    acked: list[int] = field(default_factory=list)
    too_large: list[tuple[Any, str]] = field(default_factory=list)
    producer_broken: BaseException | None = None


def record_size(row) -> int:  # noqa: ANN001 - an outbox row
    """The size of the row's Kafka record (value, key, headers and their framing), in bytes."""
    headers = sum(len(name) + len(str(value).encode()) + 2 for name, value in row.headers.items())
    return len(row.payload) + len(row.aggregate_id.encode()) + headers + _RECORD_OVERHEAD_BYTES


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        *,
        service_name: str,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.5,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
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
        self.max_event_bytes = max_event_bytes
        # A producer refused out of sequence cannot send again: the relay ends (see the module).
        self.leadership = AdvisoryLockLeadership(engine, f"openrcm-outbox-relay:{service_name}", role="outbox relay",
                                                 fatal=(OutOfOrderSequenceNumber,))
        self._wakeup = asyncio.Event()

    @property
    def holds_lock(self) -> bool:
        return self.leadership.holds_lock

    def wake(self) -> None:
        """Hint that rows were just staged. Every writer in this process calls it, so the idle
        poll (for rows written elsewhere) can be slow and cheap."""
        self._wakeup.set()

    async def run(self) -> None:
        """Relay until cancelled, while leader; survives database and broker outages, and a lost lock,
        by backing off and taking the lock again. Ends only when the producer cannot send any more
        (see the module): then the process needs a new one."""
        await self.leadership.run(self._relay_while_leader)

    async def _relay_while_leader(self, lock_conn) -> None:  # noqa: ANN001 - the connection holding the lock
        listening = await self._listen(lock_conn)
        try:
            last_stats = 0.0
            while True:
                await self.leadership.confirm(lock_conn)
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

    @property
    def lock_id(self) -> int:
        return self.leadership.lock_id

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
        """Publish one batch of rows; returns how many left the outbox (published and deleted, or
        set aside as too large)."""
        async with self._single_statements.connect() as conn:
            rows = (await conn.execute(_UNPUBLISHED, {"batch_size": self.batch_size})).all()
        if not rows:
            return 0
        publication = await self.publish(rows)
        if publication.too_large:
            await self.set_aside(publication.too_large)
        if publication.acked:
            await self.delete_published(publication.acked)
            OUTBOX_PUBLISHED.labels(self.service_name).inc(len(publication.acked))
        if publication.producer_broken is not None:
            log.error("the producer can no longer send to a partition; the relay stops so the process gets a new one",
                      extra={"service": self.service_name})
            raise publication.producer_broken
        return len(publication.acked) + len(publication.too_large)

    async def publish(self, rows) -> Publication:
        """Send rows in order. Acknowledged: the leading rows the broker took, up to the first
        failure (later rows wait for the next round), passing over rows too large ever to be taken."""
        futures = []
        for row in rows:
            if record_size(row) > self.max_event_bytes:
                futures.append(None)  # never sent (see the module)
                continue
            headers = [(name, str(value).encode()) for name, value in row.headers.items()]
            futures.append(await self.producer.send(
                row.topic, value=row.payload, key=row.aggregate_id.encode(), headers=headers))
        publication = Publication()
        for row, future in zip(rows, futures):
            if future is None:
                publication.too_large.append((row, f"larger than {self.max_event_bytes} bytes"))
                continue
            try:
                await future
            except _TOO_LARGE as exc:
                publication.too_large.append((row, type(exc).__name__))
                continue
            except OutOfOrderSequenceNumber as exc:
                publication.producer_broken = exc
                break
            except Exception as exc:
                log.warning("outbox publish failed; later rows wait", extra={"error_class": type(exc).__name__})
                break
            publication.acked.append(row.id)
        return publication

    async def set_aside(self, rows: list[tuple[Any, str]]) -> None:
        """Move rows the broker can never take out of the outbox, and raise the alarm for each."""
        for row, error_class in rows:
            async with self._single_statements.connect() as conn:
                await conn.execute(_SET_ASIDE, {"ids": [row.id], "reason": error_class})
            OUTBOX_SET_ASIDE.labels(self.service_name).inc()
            log.error("outbox row set aside: the broker cannot take it; its event is not published", extra={
                "service": self.service_name, "event_id": str(row.event_id), "event_type": row.event_type,
                "topic": row.topic, "size_bytes": len(row.payload), "error_class": error_class})

    async def delete_published(self, ids: list[int]) -> None:
        async with self._single_statements.connect() as conn:
            await conn.execute(_DELETE_PUBLISHED, {"ids": ids})

    async def record_backlog(self) -> None:
        """The backlog and oldest-row gauges, from index lookups and a scan of at most
        BACKLOG_EXACT_UP_TO rows (see there), in one round trip."""
        async with self._single_statements.connect() as conn:
            counted, first_id, last_id, oldest = (await conn.execute(
                _BACKLOG, {"cap": BACKLOG_EXACT_UP_TO + 1})).one()
        backlog = counted if counted <= BACKLOG_EXACT_UP_TO else last_id - first_id + 1
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
