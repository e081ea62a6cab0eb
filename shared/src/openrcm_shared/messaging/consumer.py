"""The inbox consumer: exactly-once effects on top of Kafka's at-least-once delivery.

For each record, in partition order:
1. Read the type header; a type this consumer has no handler for is skipped and counted (its
   other headers unread). Read the CloudEvents headers of the others.
2. Validate the data against the contract; a schema-invalid event is dead-lettered.
3. In one database transaction: insert (consumer_group, ce_id) into the inbox and apply the
   handler's effects (including any events it stages in the outbox). If the inbox row already
   exists, the event was applied before: nothing happens (duplicate, counted).
4. Commit the database, then commit the Kafka offset. A crash between the two redelivers the
   record, which step 3 turns into a no-op.

Transient failures (the database failing over, a deadlock) never dead-letter: a record is
retried a few times in place with exponential backoff and full jitter, and then its partition
waits: it is paused at that record (the consumer's other partitions keep flowing) and fetched
again after a backoff that grows to a cap, for as long as it takes. Order holds: nothing later in
the partition is applied before it. `waiting_partitions()` (in /readyz) and the
`openrcm_consumer_waiting_partitions` gauge show a partition that waits.

A record that fails for good (a permanent error, data its contract rejects) goes to
`<topic>.<group>.dlq` with error headers, its key is parked and the offset committed: later
records of the same key go to the DLQ too, marked as parked behind it, until an operator replays
them (applied in their original order) or skips it (openrcm_shared.messaging.parking).

A partition revoked in a rebalance while its batch is being applied is left as it is: the record
being applied finishes, nothing after it is applied or committed here, and the partition's new
owner carries on from the committed offset (the inbox makes any overlap a no-op).

Group commit: consecutive records of a partition batch that are valid and handled (up to
MAX_RECORDS_PER_TRANSACTION) share one transaction, each with its own inbox row, committed
before the offset: the same guarantees, without a transaction (and a pool checkout) per event,
which was most of a consumer's cost per event under load. The run's inbox rows are inserted by
one statement at the start of its transaction, and an event whose row was already there is a
duplicate, as with one insert per event. If anything in such a run fails, the whole run is
rolled back and its records are applied again one transaction each, with the retries and the
DLQ above, so a failure never costs another record its effects.

Row locks in a shared run: its records lock rows in the order of their events, which is not the
order other writers lock the same rows in (the claims service locks claims by id), so a run that
waits for a row while holding others can deadlock. Only the run's first handled record may wait;
later ones are told to lock with NOWAIT (`HandlerContext.nowait_locks`), so a row held elsewhere
fails the run at once and its records are applied one per transaction, as after any failure.

Practices (row-level security, see openrcm_shared.row_security): each record is applied acting
for the practice its `ce_tenantid` names, so its handler sees and writes that practice's rows
only. A transaction of its own begins with the practice bound; a shared run may hold several
practices' records, so before each record's handler, and before each practice's deferred writes
at the commit, the run's transaction is switched to the practice concerned (one statement, only
when it changes).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError
import sqlalchemy as sa
from sqlalchemy.sql import Executable
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.contracts.topics import dlq_topic
from openrcm_shared.db import bind_practice
from openrcm_shared.messaging.envelope import Envelope, EnvelopeError, header
from openrcm_shared.messaging.errors import ParkedBehindFailure, PermanentEventError, is_transient, sanitized_message
from openrcm_shared.messaging.outbox import stage_events
from openrcm_shared.messaging.parking import SKIP_EVENT_TYPE, ParkedEvent, ParkedKeys, read_skip_marker
from openrcm_shared.messaging.tables import inbox
from openrcm_shared.observability import (
    CONSUMER_LONGEST_WAIT, CONSUMER_PARKED_KEYS, CONSUMER_WAITING_PARTITIONS, EVENT_PROCESSING_DURATION,
    EVENTS_DEAD_LETTERED, EVENTS_DUPLICATE, EVENTS_PROCESSED, EVENTS_RETRIED, EVENTS_SKIPPED, consumer_span,
    reset_correlation_id, set_correlation_id,
)
from openrcm_shared.security.context import acting_for, current_tenant

log = logging.getLogger(__name__)

# Records applied in one shared transaction at most (bounds how long its row locks are held).
MAX_RECORDS_PER_TRANSACTION = 200
# How often the parked-keys gauge is read from the database (it changes rarely).
PARKED_GAUGE_SECONDS = 30.0


@dataclass
class HandlerContext:
    """What a handler gets: the transaction it must use, the envelope, and a way to emit events."""

    conn: AsyncConnection
    envelope: Envelope
    source: str
    aggregate_type: str
    staged: list[IntegrationEvent] = field(default_factory=list)
    deferred: "DeferredWrites | None" = None  # the shared run's, when the record is applied in one
    # True for a record applied after others in a shared run's transaction: they hold the rows
    # they locked, taken in the order of their events, not in the order other writers lock them,
    # so waiting now for a row another transaction holds could close a deadlock with it. Such a
    # handler takes its row locks with NOWAIT: a row held elsewhere fails the run at once, and
    # its records are applied again one transaction each, where waiting is safe.
    nowait_locks: bool = False

    @property
    def tenant_id(self) -> str:
        return self.envelope.tenant_id

    async def write_at_commit(self, statement: Executable, params: dict[str, Any]) -> None:
        """A write that nothing later in this transaction reads (a row recorded for later lookups):
        in a run of records sharing a transaction it goes with the run's other writes of the same
        statement, as one executemany just before the commit, instead of a round trip per record.
        Applied alone, the record's write is made now. Either way it is made acting for the
        event's practice."""
        if self.deferred is None:
            await self.conn.execute(statement, params)
        else:
            self.deferred.add(self.tenant_id, statement, params)

    async def add_at_commit(self, statement: Executable, key: dict[str, Any], amounts: dict[str, Any]) -> None:
        """An additive write (`statement` adds `amounts` to the row `key` names, e.g. an upsert
        `SET n = n + EXCLUDED.n`) that nothing later in this transaction reads: in a run of records
        sharing a transaction the amounts of every record for the same statement and key are summed
        in memory and written once, at the commit, rows in key order (a hot row is written once per
        run, and transactions lock the rows in one order; the key's values must compare, no None).
        Applied alone, written now. Summed amounts go with the run's transaction: a run rolled
        back discards them."""
        if self.deferred is None:
            await self.conn.execute(statement, {**key, **amounts})
        else:
            self.deferred.add_to(self.tenant_id, statement, key, amounts)

    async def merge_at_commit(self, upsert: "MergedUpsert", key: dict[str, Any], values: dict[str, Any]) -> None:
        """An upsert setting `values` on the row `key` names (later values win), that nothing later
        in this transaction reads: in a run of records sharing a transaction every record's values
        for the same key are merged in memory and the row written once, at the commit (rows in
        key order, one executemany per set of columns), as the records' upserts one after another
        would have left it. Applied alone, written now."""
        if self.deferred is None:
            row = {**key, **values}
            await self.conn.execute(upsert.statement(tuple(sorted(row))), row)
        else:
            self.deferred.merge(self.tenant_id, upsert, key, values)

    async def write_pending(self, statement: Executable) -> None:
        """Make now this practice's deferred writes of `statement` (before reading what they write)."""
        if self.deferred is not None:
            await self.deferred.flush_statement(self.conn, self.tenant_id, statement)

    async def emit(self, *events: IntegrationEvent) -> list[Envelope]:
        """Stage events in this transaction's outbox, caused by the event being handled."""
        envelopes = await stage_events(self.conn, events, source=self.source, aggregate_type=self.aggregate_type,
                                       cause=self.envelope)
        self.staged.extend(events)
        return envelopes


Handler = Callable[[HandlerContext, Any], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """One event type this consumer applies, and how."""

    contract: type[IntegrationEvent]
    handler: Handler


# Built once: runs for every event applied in a transaction of its own.
_CLAIM_INBOX_ROW = (pg_insert(inbox).values(consumer_group=sa.bindparam("consumer_group"),
                                            event_id=sa.bindparam("event_id"), event_type=sa.bindparam("event_type"))
                    .on_conflict_do_nothing().returning(inbox.c.event_id))


# A run's inbox rows in one statement: the ids it returns are the events not seen before.
_CLAIM_INBOX_ROWS = sa.text(
    "INSERT INTO inbox (consumer_group, event_id, event_type) "
    "SELECT :consumer_group, claimed.event_id, claimed.event_type "
    "FROM unnest(CAST(:event_ids AS uuid[]), CAST(:event_types AS text[])) AS claimed(event_id, event_type) "
    "ON CONFLICT DO NOTHING RETURNING event_id::text"
).bindparams(sa.bindparam("event_ids", type_=pg.ARRAY(pg.UUID(as_uuid=True))),
             sa.bindparam("event_types", type_=pg.ARRAY(sa.Text)))


@dataclass(frozen=True, eq=False)
class MergedUpsert:
    """For `HandlerContext.merge_at_commit`: the upsert writing a row with the given columns
    (sorted names, the key's included)."""

    statement: Callable[[tuple[str, ...]], Executable]


class DeferredWrites:
    """Writes of a shared run's handlers made at its commit, one executemany per practice and
    statement (practices in sorted order, each practice's statements in the order first used,
    summed rows in key order: consumers writing the same rows lock them in one order), each
    practice's acting for it. A run of 200 `ClaimSubmitted` in the remittance service spent most
    of its time in one round trip per event for one upsert each."""

    def __init__(self) -> None:
        # statement -> its rows in order (add), or its summed rows by key (add_to)
        self._by_practice: dict[str, dict[Executable, list[dict[str, Any]] | dict[tuple, dict[str, Any]]]] = {}

    def add(self, tenant_id: str, statement: Executable, params: dict[str, Any]) -> None:
        self._by_practice.setdefault(tenant_id, {}).setdefault(statement, []).append(params)

    def merge(self, tenant_id: str, upsert: MergedUpsert, key: dict[str, Any], values: dict[str, Any]) -> None:
        rows = self._by_practice.setdefault(tenant_id, {}).setdefault(upsert, {})
        row = rows.get(key_values := tuple(key.values()))
        if row is None:
            rows[key_values] = {**key, **values}
        else:
            row.update(values)

    def add_to(self, tenant_id: str, statement: Executable, key: dict[str, Any], amounts: dict[str, Any]) -> None:
        rows = self._by_practice.setdefault(tenant_id, {}).setdefault(statement, {})
        row = rows.get(key_values := tuple(key.values()))
        if row is None:
            rows[key_values] = {**key, **amounts}
        else:
            for name, amount in amounts.items():
                row[name] += amount

    @staticmethod
    def _rows(rows: list[dict[str, Any]] | dict[tuple, dict[str, Any]]) -> list[dict[str, Any]]:
        return rows if isinstance(rows, list) else [rows[key] for key in sorted(rows)]

    @staticmethod
    async def _write(conn: AsyncConnection, statement: Executable | MergedUpsert,
                     rows: list[dict[str, Any]] | dict[tuple, dict[str, Any]]) -> None:
        if not isinstance(statement, MergedUpsert):
            await conn.execute(statement, DeferredWrites._rows(rows))
            return
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for key in sorted(rows):
            by_columns.setdefault(tuple(sorted(rows[key])), []).append(rows[key])
        for columns, same in by_columns.items():
            await conn.execute(statement.statement(columns), same)

    async def flush_statement(self, conn: AsyncConnection, tenant_id: str, statement: Executable) -> None:
        rows = self._by_practice.get(tenant_id, {}).pop(statement, None)
        if rows:
            await self._write(conn, statement, rows)

    async def flush(self, conn: AsyncConnection, act_for: Callable[[str], Awaitable[None]]) -> None:
        for tenant_id, statements in sorted(self._by_practice.items()):
            if not statements:
                continue
            await act_for(tenant_id)
            for statement, rows in statements.items():
                await self._write(conn, statement, rows)
        self._by_practice.clear()


class _RunAborted(Exception):
    """A record of a shared-transaction run failed; the run is applied again one record at a time."""


class _PartitionMustWait(Exception):
    """A record kept failing transiently in place: its partition waits (the cause is __cause__)."""


@dataclass
class PartitionWait:
    """A partition held at a record that keeps failing transiently: paused, so the consumer's other
    partitions flow, and fetched again from that record once `resume_at` (monotonic) has come."""

    topic: str
    partition: int
    offset: int
    since: float  # wall-clock time the wait began
    attempts: int = 0
    error_class: str = ""
    resume_at: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                "waiting_seconds": round(time.time() - self.since, 1), "attempts": self.attempts,
                "error_class": self.error_class}


class _SharedTransaction:
    """One transaction for a run of records, begun when the first of them needs the database."""

    def __init__(self, engine: AsyncEngine, group_id: str, events: dict[UUID, str]) -> None:
        self.engine = engine
        self.group_id = group_id
        self.events = events  # event id -> type of every handled record of the run, in order
        self.first_seen: set[UUID] = set()  # of those, the ones this run's inbox insert claimed
        self.conn: AsyncConnection | None = None
        self.practice: str | None = None  # the practice the transaction acts for now
        self.staged = False
        self.handled_any = False  # a handler has run in the transaction (its row locks are held)
        self.metrics: list[Callable[[], None]] = []  # recorded once committed
        self.deferred = DeferredWrites()  # handlers' HandlerContext.write_at_commit

    async def connection(self) -> AsyncConnection:
        """The run's transaction, begun with the inbox rows of all its handled events (the inbox
        holds no practice's data), acting for the practice of the record that needed it first."""
        if self.conn is None:
            conn = await self.engine.connect()
            self.practice = current_tenant()  # what the BEGIN below binds (db.PracticeBoundConnection)
            try:
                await conn.begin()
                claimed = await conn.execute(_CLAIM_INBOX_ROWS, {
                    "consumer_group": self.group_id, "event_ids": list(self.events),
                    "event_types": list(self.events.values())})
                self.first_seen = {UUID(row[0]) for row in claimed}
            except BaseException:
                await conn.close()
                raise
            self.conn = conn
        return self.conn

    async def act_for(self, tenant_id: str) -> None:
        """From here on, the run's transaction acts for `tenant_id` (a statement only on a change)."""
        if tenant_id != self.practice:
            await bind_practice(self.conn, tenant_id)
            self.practice = tenant_id

    def claim(self, event_id: UUID) -> bool:
        """True the first time the run applies this event and its inbox row was new; False for a
        duplicate (applied before, or earlier in this run)."""
        if event_id in self.first_seen:
            self.first_seen.discard(event_id)
            return True
        return False

    async def commit(self) -> None:
        if self.conn is not None:
            try:
                await self.deferred.flush(self.conn, self.act_for)
                await self.conn.commit()
            finally:
                await self._close()

    async def rollback(self) -> None:
        if self.conn is not None:
            try:
                await self.conn.rollback()
            except Exception as exc:  # the connection is gone: closing it discards it
                log.warning("rollback of a shared transaction failed", extra={"error_class": type(exc).__name__})
            finally:
                await self._close()

    async def _close(self) -> None:
        conn, self.conn = self.conn, None
        try:
            await conn.close()
        except Exception as exc:  # already broken: the pool discards it
            log.warning("closing a shared transaction's connection failed", extra={"error_class": type(exc).__name__})


_UNTOLD = (None, None, None)  # a record not told (or already taken): (kind, envelope, data)


class InboxConsumer:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        consumer: AIOKafkaConsumer,
        dlq_producer: AIOKafkaProducer,
        group_id: str,
        subscriptions: list[Subscription],
        source: str,
        aggregate_type: str,
        max_attempts: int = 3,
        base_backoff_seconds: float = 0.1,
        max_backoff_seconds: float = 10.0,
        on_events_staged: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.consumer = consumer
        self.dlq_producer = dlq_producer
        self.group_id = group_id
        self.handlers = {s.contract.event_type: s for s in subscriptions}
        self.source = source
        self.aggregate_type = aggregate_type
        self.max_attempts = max_attempts  # attempts in place; after them the partition waits
        self.base_backoff_seconds = base_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.on_events_staged = on_events_staged
        self._shared: _SharedTransaction | None = None  # while a run of records is applied together
        # id(record) -> (kind, envelope, data; both None unless handled), told once per batch:
        # a run too short to share a transaction is looked for again from the next record, over
        # records already told (the remittance consumer told each record ~8 times, 15 % of its
        # CPU, parsing its events again); process() takes a handled record's parse from here.
        self._told: dict[int, tuple[str, Envelope | None, IntegrationEvent | None]] = {}
        self.parked = ParkedKeys(group_id)
        self._parked_now: set[tuple[str, bytes]] = set()  # of the fetch being applied, the (topic, key)s parked
        self._waits: dict[TopicPartition, PartitionWait] = {}
        self._single_statements = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._parked_gauge_due = 0.0
        # True while this group is known to have no parked key: a partition batch then needs no
        # look-up of its keys (a query and a pool checkout per batch). Only a partition's owner
        # parks its keys, so it stays true until this consumer parks one or its assignment changes.
        self._no_parked_keys = False
        self._assignment_seen: frozenset[TopicPartition] = frozenset()
        # The metrics' labelled children, looked up once (labels() takes a lock and hashes the labels).
        self._skipped = EVENTS_SKIPPED.labels(group_id)
        self._duration = EVENT_PROCESSING_DURATION.labels(group_id)
        self._applied_counters: dict[tuple[str, bool], Any] = {}

    async def run(self) -> None:
        """Consume until cancelled. The consumer must already be started."""
        while True:
            self._resume_due_partitions()
            batches = await self.consumer.getmany(timeout_ms=self._poll_timeout_ms(), max_records=500)
            await self._commit_settled(await self._process_fetch(batches))
            self._record_waits()
            await self._refresh_parked_gauge()

    def waiting_partitions(self) -> list[dict[str, Any]]:
        """The partitions held at a record that keeps failing transiently (for /readyz)."""
        return [wait.describe() for wait in self._waits.values()]

    def _owns(self, tp: TopicPartition) -> bool:
        return tp in self.consumer.assignment()

    def _wait(self, tp: TopicPartition, record: ConsumerRecord, error: BaseException) -> None:
        """Hold the partition at `record`: paused, and fetched again from it after the backoff.
        A partition revoked meanwhile is let go (its new owner starts from the committed offset)."""
        wait = self._waits.get(tp)
        if wait is None or wait.offset != record.offset:
            wait = PartitionWait(tp.topic, tp.partition, record.offset, since=time.time())
        wait.attempts += 1
        wait.error_class = type(error).__name__
        delay = self.backoff(self.max_attempts + wait.attempts)
        wait.resume_at = time.monotonic() + delay
        try:
            self.consumer.seek(tp, record.offset)
            self.consumer.pause(tp)
        except IllegalStateError:
            self._waits.pop(tp, None)
            return
        self._waits[tp] = wait
        log.warning("record not settled; its partition waits", extra={
            "topic": tp.topic, "partition": tp.partition, "offset": record.offset, "attempts": wait.attempts,
            "error_class": wait.error_class, "retry_in_seconds": round(delay, 2)})

    def _resume_due_partitions(self) -> None:
        now, assigned = time.monotonic(), self.consumer.assignment()
        for tp, wait in list(self._waits.items()):
            if tp not in assigned:
                del self._waits[tp]  # revoked: no longer ours to wait on
            elif wait.resume_at <= now and tp in self.consumer.paused():
                try:
                    self.consumer.resume(tp)
                except IllegalStateError:
                    del self._waits[tp]

    def _poll_timeout_ms(self) -> int:
        """Poll no longer than until the next waiting partition is due."""
        due = [wait.resume_at for wait in self._waits.values()]
        if not due:
            return 500
        return max(10, min(500, int((min(due) - time.monotonic()) * 1000)))

    def _record_waits(self) -> None:
        CONSUMER_WAITING_PARTITIONS.labels(self.group_id).set(len(self._waits))
        CONSUMER_LONGEST_WAIT.labels(self.group_id).set(
            max((time.time() - wait.since for wait in self._waits.values()), default=0.0))

    async def _refresh_parked_gauge(self) -> None:
        if time.monotonic() < self._parked_gauge_due:
            return
        self._parked_gauge_due = time.monotonic() + PARKED_GAUGE_SECONDS
        assignment = frozenset(self.consumer.assignment())
        try:
            async with self._single_statements.connect() as conn:
                parked = await self.parked.count(conn)
        except Exception as exc:  # a gauge is not worth failing for; the next round reads it again
            log.warning("could not count parked keys", extra={"error_class": type(exc).__name__})
            return
        CONSUMER_PARKED_KEYS.labels(self.group_id).set(parked)
        self._no_parked_keys = parked == 0 and assignment == self._assignment_seen

    def _known_without_parked_keys(self) -> bool:
        """Whether the last count found no parked key of this group and nothing since can have
        parked one here: this consumer parked none since (`_fail_for_good` clears it) and owns the
        same partitions (a new one may come with keys its previous owner parked)."""
        assignment = frozenset(self.consumer.assignment())
        if assignment != self._assignment_seen:
            self._assignment_seen = assignment
            self._no_parked_keys = False
            self._parked_gauge_due = 0.0
        return self._no_parked_keys

    async def _commit_settled(self, settled: dict[TopicPartition, int]) -> None:
        """Commit, in one request, the offsets after the records a fetch's partition batches
        settled (each batch's database commit came first), for the partitions still ours."""
        offsets = {tp: next_offset for tp, next_offset in settled.items() if self._owns(tp)}
        if not offsets:
            return
        try:
            await self.commit_offsets(offsets)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # rebalance or broker outage: redelivery is deduplicated by the inbox
            log.warning("offset commit failed", extra={"error_class": type(exc).__name__})

    async def _process_fetch(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> dict[TopicPartition, int]:
        """Apply a fetch's records, each partition's in order; per partition, the offset after the
        last record settled, which the caller commits.

        Runs of valid, handled records are applied in one transaction (group commit): first the
        leading run of every partition together (under load a fetch brings a few records of each
        partition, and a transaction per partition was most of a consumer's cost per event), then
        each partition's rest. The rest, and every record of a run that failed, one by one. If a
        record cannot even be dead-lettered (the broker is down), the offsets of the records
        before it are committed and the partition waits at it (`_wait`), so it comes back. A
        partition revoked meanwhile is left to its new owner.
        """
        owned = {tp: records for tp, records in batches.items() if self._owns(tp)}
        settled: dict[TopicPartition, int] = {}
        try:
            self._parked_now = await self._parked_keys_of(owned)
        except Exception as exc:  # the database is away: each partition waits at its first record
            self._told.clear()
            for tp, records in owned.items():
                self._wait(tp, records[0], exc)
            return settled
        starts = dict.fromkeys(owned, 0)
        leading = self._leading_runs(owned)
        if leading and await self._apply_run([record for run in leading.values() for record in run]):
            for tp, run in leading.items():
                starts[tp], settled[tp] = len(run), run[-1].offset + 1
        for tp, records in owned.items():
            if (done := await self._settle_partition(tp, records, starts[tp])) is not None:
                settled[tp] = done
            wait = self._waits.get(tp)
            if wait is not None and tp in settled and settled[tp] > wait.offset:
                del self._waits[tp]  # the record it waited at is settled
        self._told.clear()
        return settled

    def _leading_runs(self, owned: dict[TopicPartition, list[ConsumerRecord]]) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The run each partition's records begin with, for partitions whose runs together hold
        at most MAX_RECORDS_PER_TRANSACTION records and at least two handled ones (else none)."""
        leading: dict[TopicPartition, list[ConsumerRecord]] = {}
        total = handled = 0
        for tp, records in owned.items():
            run = self._shared_run(records, 0, least_handled=1)
            if run and total + len(run) <= MAX_RECORDS_PER_TRANSACTION:
                leading[tp] = run
                total += len(run)
                handled += sum(self._kind(record) == "handled" for record in run)
        return leading if handled >= 2 and len(leading) > 1 else {}

    async def _settle_partition(self, tp: TopicPartition, records: list[ConsumerRecord], index: int) -> int | None:
        """Apply a partition's records from `index` on, in order (runs together, else one by one);
        the offset after the last one settled, None if none was."""
        done = None
        while index < len(records) and self._owns(tp):
            run = self._shared_run(records, index)
            if run and await self._apply_run(run):
                index += len(run)
                done = run[-1].offset + 1
                continue
            for record in run or records[index:index + 1]:
                if not self._owns(tp) or not await self._settle_one(tp, record):
                    index = len(records)  # revoked, or waiting at this record: the rest comes again
                    break
                done = record.offset + 1
                index += 1
        return done

    async def _settle_one(self, tp: TopicPartition, record: ConsumerRecord) -> bool:
        """Process one record in its own transaction; False (the partition waits at it) if it could not be settled."""
        try:
            await self.process(record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # still transient after the attempts in place, or the DLQ cannot be written
            self._wait(tp, record, exc.__cause__ if isinstance(exc, _PartitionMustWait) else exc)
            return False
        return True

    async def _parked_keys_of(self, owned: dict[TopicPartition, list[ConsumerRecord]]) -> set[tuple[str, bytes]]:
        """Which (topic, key)s of the fetch's records this consumer applies are parked (a query
        per topic with such keys, none while the group is known to have no parked key)."""
        keys: dict[str, set[bytes]] = {}
        for tp, records in owned.items():
            for record in records:
                if record.key is not None and self._kind(record) != "skipped":
                    keys.setdefault(tp.topic, set()).add(record.key)
        if not keys or self._known_without_parked_keys():
            return set()
        async with self._single_statements.connect() as conn:
            return {(topic, key) for topic, topic_keys in keys.items()
                    for key in await self.parked.among(conn, topic, topic_keys)}

    def _shared_run(self, records: list[ConsumerRecord], start: int, least_handled: int = 2) -> list[ConsumerRecord]:
        """The records from `start` on that can share a transaction: consecutive, each valid and
        either handled or skipped, with at least `least_handled` handled (one alone gains
        nothing). A record headed for the DLQ, one of a parked key and an operator's instruction
        end the run, so those are settled one record at a time."""
        run: list[ConsumerRecord] = []
        handled = 0
        for record in records[start:start + MAX_RECORDS_PER_TRANSACTION]:
            kind = self._kind(record)
            if kind in ("invalid", "control") or (kind == "handled" and (record.topic, record.key) in self._parked_now):
                break
            run.append(record)
            handled += kind == "handled"
        return run if handled >= least_handled else []

    def _not_subscribed(self, event_type: str | None) -> bool:
        """A record of a type this consumer has no handler for, told by its ce_type header alone:
        most records on a shared topic are other consumers' (the remittance service applies one
        of every four claim events), and reading their whole envelope cost more than the skip."""
        return event_type is not None and event_type not in self.handlers

    def _kind(self, record: ConsumerRecord) -> str:
        told = self._told.get(id(record))
        if told is None:
            told = self._told[id(record)] = self._tell(record)
        return told[0]

    def _tell(self, record: ConsumerRecord) -> tuple[str, Envelope | None, IntegrationEvent | None]:
        event_type = header(record.headers, "ce_type")
        if event_type == SKIP_EVENT_TYPE:
            return "control", None, None
        if self._not_subscribed(event_type):
            return "skipped", None, None
        try:
            envelope = Envelope.from_headers(record.headers)
        except EnvelopeError:
            return "invalid", None, None
        subscription = self.handlers.get(envelope.type)
        if subscription is None:
            return "skipped", None, None
        try:
            data = subscription.contract.model_validate_json(record.value or b"")
        except ValidationError:
            return "invalid", None, None
        return "handled", envelope, data  # process() would otherwise read the same headers and bytes again

    async def _apply_run(self, run: list[ConsumerRecord]) -> bool:
        """Apply `run` in one transaction; False (all of it rolled back) if any record failed."""
        events = {}
        for record in run:
            _, envelope, data = self._told.get(id(record), _UNTOLD)
            if data is not None:
                events.setdefault(envelope.id, envelope.type)
        self._shared = _SharedTransaction(self.engine, self.group_id, events)
        try:
            for record in run:
                await self.process(record)
            await self._shared.commit()
            for record_metric in self._shared.metrics:
                record_metric()
        except asyncio.CancelledError:
            await self._shared.rollback()
            raise
        except Exception as exc:  # _RunAborted, or the commit failed: one by one, with retries
            await self._shared.rollback()
            log.info("shared transaction rolled back; applying its records one by one",
                     extra={"error_class": type(exc.__cause__ or exc).__name__, "records": len(run)})
            return False
        finally:
            staged, self._shared = self._shared.staged, None
        if staged and self.on_events_staged:
            self.on_events_staged()
        return True

    async def commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        await self.consumer.commit({tp: OffsetAndMetadata(next_offset, "") for tp, next_offset in offsets.items()})

    async def process(self, record: ConsumerRecord) -> str:
        """Apply one record; returns the outcome (processed, duplicate, skipped, dead_lettered,
        parked, or skipped_by_operator for a skip marker addressed to this group)."""
        started = time.perf_counter()
        event_type = header(record.headers, "ce_type")
        if event_type == SKIP_EVENT_TYPE:
            return await self._apply_skip(record)
        if self._not_subscribed(event_type):
            self._count(self._skipped.inc)
            return "skipped"
        _, envelope, data = self._told.pop(id(record), _UNTOLD)
        try:
            envelope = envelope or Envelope.from_headers(record.headers)
        except EnvelopeError as exc:
            await self.dead_letter(record, exc, attempts=1, event_type="unknown")
            return "dead_lettered"
        subscription = self.handlers.get(envelope.type)
        if subscription is None:
            self._count(self._skipped.inc)
            return "skipped"
        token = set_correlation_id(envelope.correlation_id)
        try:
            with consumer_span(envelope.type, envelope.traceparent, record.topic, self.group_id), \
                    acting_for(envelope.tenant_id):
                outcome = await self._apply_with_retries(record, envelope, subscription, data)
        finally:
            reset_correlation_id(token)
        elapsed = time.perf_counter() - started
        self._count(lambda: self._duration.observe(elapsed))
        return outcome

    async def _apply_with_retries(self, record: ConsumerRecord, envelope: Envelope, subscription: Subscription,
                                  data: IntegrationEvent | None = None) -> str:
        try:
            data = data or subscription.contract.model_validate_json(record.value or b"")
        except ValidationError as exc:
            return await self._fail_for_good(record, envelope, exc, attempts=1)
        if self._shared is None and record.key is not None and (record.topic, record.key) in self._parked_now:
            return await self._apply_parked(record, envelope, subscription, data)
        applied, error, attempts = await self._with_retries(
            lambda: self.apply(envelope, data, subscription), event_type=envelope.type)
        if error is not None:
            return await self._fail_for_good(record, envelope, error, attempts=attempts)
        return self._count_applied(envelope, applied)

    def _count_applied(self, envelope: Envelope, applied: Any) -> str:
        applied = bool(applied)  # a HandlerContext in a shared run
        counter = self._applied_counters.get((envelope.type, applied))
        if counter is None:
            counter = self._applied_counters[(envelope.type, applied)] = (
                EVENTS_PROCESSED if applied else EVENTS_DUPLICATE).labels(self.group_id, envelope.type)
        self._count(counter.inc)
        return "processed" if applied else "duplicate"

    async def _with_retries(self, attempt_once: Callable[[], Awaitable[Any]], *,
                            event_type: str) -> tuple[Any, BaseException | None, int]:
        """Run `attempt_once`, retrying transient failures in place up to `max_attempts`:
        (its result, None, attempts), or (None, the error, attempts) for a failure for good.
        Still transient after the attempts in place: _PartitionMustWait (never a dead letter).
        Inside a shared transaction nothing is retried: _RunAborted, and its run starts over."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_once(), None, attempt
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._shared is not None:
                    raise _RunAborted() from exc
                if not is_transient(exc):
                    if not isinstance(exc, PermanentEventError):
                        log.exception("handler failed", extra={"event_type": event_type})
                    return None, exc, attempt
                if attempt >= self.max_attempts:
                    raise _PartitionMustWait() from exc
                EVENTS_RETRIED.labels(self.group_id).inc()
                await asyncio.sleep(self.backoff(attempt))

    @staticmethod
    def _parked_event(record: ConsumerRecord, envelope: Envelope) -> ParkedEvent:
        return ParkedEvent(event_id=envelope.id, event_type=envelope.type, topic=record.topic, key=record.key,
                           partition=record.partition, offset=record.offset)

    async def _fail_for_good(self, record: ConsumerRecord, envelope: Envelope, error: BaseException, *,
                             attempts: int) -> str:
        """Park the record's key behind it (a key's later events must not overtake it), then send
        it to the DLQ. A record without a key has no order to keep: only dead-lettered."""
        if record.key is not None:
            async with self.engine.begin() as conn:
                await self.parked.park(conn, self._parked_event(record, envelope), reason="failed")
            self._parked_now.add((record.topic, record.key))
            self._no_parked_keys = False
            self._parked_gauge_due = 0.0
        await self.dead_letter(record, error, attempts=attempts, event_type=envelope.type)
        return "dead_lettered"

    async def _apply_parked(self, record: ConsumerRecord, envelope: Envelope, subscription: Subscription,
                            data: IntegrationEvent) -> str:
        """A record of a parked key: applied if it is the key's first parked event (a replay in
        order), parked behind the first otherwise, and applied as usual if the key was freed."""
        result, error, attempts = await self._with_retries(
            lambda: self._apply_if_head(record, envelope, subscription, data), event_type=envelope.type)
        if error is not None:
            return await self._fail_for_good(record, envelope, error, attempts=attempts)
        outcome, detail = result
        if outcome == "free":
            self._parked_now.discard((record.topic, record.key))
            return await self._apply_with_retries(record, envelope, subscription, data)
        if outcome == "parked":
            await self.dead_letter(record, ParkedBehindFailure(detail), attempts=0, event_type=envelope.type,
                                   reason="parked")
            return "parked"
        if outcome == "applied":
            if not detail:
                self._parked_now.discard((record.topic, record.key))
            self._parked_gauge_due = 0.0
            log.info("parked event applied in order", extra={"event_type": envelope.type, "key_still_parked": detail})
            return self._count_applied(envelope, True)
        return self._count_applied(envelope, False)

    async def _apply_if_head(self, record: ConsumerRecord, envelope: Envelope, subscription: Subscription,
                             data: IntegrationEvent) -> tuple[str, Any]:
        """One transaction: ("free", None) when the key is no longer parked; ("applied", whether
        the key is still parked) or ("duplicate", ...) for its first parked event, which leaves the
        list; ("parked", the first event's id) for any other event, added at the end of the list;
        ("duplicate", None) for one applied before (a repeated replay)."""
        async with self.engine.begin() as conn:
            head = await self.parked.head(conn, record.topic, record.key)
            if head is None:
                return "free", None
            if head != envelope.id:
                if await self._applied_before(conn, envelope.id):
                    return "duplicate", None
                await self.parked.park(conn, self._parked_event(record, envelope), reason="parked")
                return "parked", head
            context = await self._apply_on(conn, envelope, data, subscription)
            await self.parked.release(conn, envelope.id)
            still_parked = await self.parked.is_parked(conn, record.topic, record.key)
        if context and context.staged and self.on_events_staged:
            self.on_events_staged()
        return ("applied" if context else "duplicate"), still_parked

    async def _applied_before(self, conn: AsyncConnection, event_id: UUID) -> bool:
        return (await conn.execute(sa.select(sa.literal(True)).where(
            inbox.c.consumer_group == self.group_id, inbox.c.event_id == event_id))).scalar() is not None

    async def _apply_skip(self, record: ConsumerRecord) -> str:
        """An operator's skip marker: the event it names leaves its key's parked list and is
        recorded as applied (never to take effect); markers for other groups are skipped."""
        instruction = read_skip_marker(record)
        if instruction is None or instruction.consumer_group != self.group_id:
            self._skipped.inc()
            return "skipped"

        async def skip() -> bool:
            async with self.engine.begin() as conn:
                released = await self.parked.skip(conn, instruction)
                return released is not None and not await self.parked.is_parked(conn, *released)

        freed, error, _ = await self._with_retries(skip, event_type=SKIP_EVENT_TYPE)
        if error is not None:
            raise error  # not a transient failure, and nothing to dead-letter: the partition waits
        if freed:
            self._parked_now.discard((record.topic, record.key))
        self._parked_gauge_due = 0.0
        log.warning("event skipped by an operator", extra={"event_id": str(instruction.event_id),
                                                            "event_type": instruction.event_type})
        return "skipped_by_operator"

    def _count(self, record_metric: Callable[[], None]) -> None:
        """Record a metric now, or, inside a shared transaction, once it has committed (a run
        rolled back is applied again and must not be counted twice)."""
        if self._shared is not None:
            self._shared.metrics.append(record_metric)
        else:
            record_metric()

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (AWS Architecture Blog, 'Exponential Backoff And Jitter')."""
        # The exponent is bounded: a partition may wait through thousands of attempts, and a float
        # cannot hold 2 ** 1024.
        ceiling = min(self.max_backoff_seconds, self.base_backoff_seconds * 2 ** min(attempt - 1, 32))
        return random.uniform(ceiling / 2, ceiling)

    async def apply(self, envelope: Envelope, data: IntegrationEvent, subscription: Subscription) -> bool:
        """Inbox row and the handler's effects in one transaction (the run's shared one, if any);
        False when already applied."""
        if self._shared is not None:
            return await self._apply_on(await self._shared.connection(), envelope, data, subscription)
        async with self.engine.begin() as conn:
            context = await self._apply_on(conn, envelope, data, subscription)
        if context and context.staged and self.on_events_staged:
            self.on_events_staged()
        return bool(context)

    async def _apply_on(self, conn: AsyncConnection, envelope: Envelope, data: IntegrationEvent,
                        subscription: Subscription) -> "HandlerContext | None":
        """The inbox row, then the handler, on `conn`; None when the inbox already had the event.
        In a shared run the row was inserted with the run's others when its transaction began."""
        if self._shared is not None and envelope.id in self._shared.events:
            if not self._shared.claim(envelope.id):
                return None
        else:
            claimed = await conn.execute(_CLAIM_INBOX_ROW, {"consumer_group": self.group_id,
                                                            "event_id": envelope.id, "event_type": envelope.type})
            if claimed.first() is None:
                return None
        if self._shared is not None:  # a transaction of its own was begun acting for this practice
            await self._shared.act_for(envelope.tenant_id)
        shared = self._shared
        context = HandlerContext(conn=conn, envelope=envelope, source=self.source, aggregate_type=self.aggregate_type,
                                 deferred=shared.deferred if shared is not None else None,
                                 nowait_locks=shared is not None and shared.handled_any)
        if shared is not None:
            shared.handled_any = True
        await subscription.handler(context, data)
        if shared is not None and context.staged:
            shared.staged = True
        return context

    async def dead_letter(self, record: ConsumerRecord, error: BaseException, *, attempts: int, event_type: str,
                          reason: str = "failed") -> None:
        """Send the original record, untouched, to this group's DLQ with the reason in headers
        (`dlq_reason`: failed, its own error; parked, waiting behind an earlier event that failed)."""
        error_class = type(error).__name__
        headers = list(record.headers or ()) + [
            ("dlq_reason", reason.encode()),
            ("dlq_error_class", error_class.encode()),
            ("dlq_error_message", sanitized_message(error).encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group_id.encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_failed_at", datetime.now(timezone.utc).isoformat().encode()),
        ]
        await self.dlq_producer.send_and_wait(
            dlq_topic(record.topic, self.group_id), value=record.value, key=record.key, headers=headers)
        EVENTS_DEAD_LETTERED.labels(self.group_id, error_class).inc()
        log.warning("event dead-lettered", extra={"event_type": event_type, "error_class": error_class,
                                                  "topic": record.topic, "partition": record.partition,
                                                  "offset": record.offset})
