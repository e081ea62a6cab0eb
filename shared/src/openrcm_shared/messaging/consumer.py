"""The inbox consumer: exactly-once effects on top of Kafka's at-least-once delivery.

For each record, in partition order:
1. Read the CloudEvents headers; a type this consumer has no handler for is skipped and counted.
2. Validate the data against the contract; a schema-invalid event is dead-lettered.
3. In one database transaction: insert (consumer_group, ce_id) into the inbox and apply the
   handler's effects (including any events it stages in the outbox). If the inbox row already
   exists, the event was applied before: nothing happens (duplicate, counted).
4. Commit the database, then commit the Kafka offset. A crash between the two redelivers the
   record, which step 3 turns into a no-op.

Transient failures are retried in process with exponential backoff and full jitter, so the
partition waits and order holds. Permanent failures and exhausted retries send the original
record to `<topic>.<group>.dlq` with error headers, and then the offset is committed.
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

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from opentelemetry import trace
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.contracts.topics import dlq_topic
from openrcm_shared.messaging.envelope import Envelope, EnvelopeError
from openrcm_shared.messaging.errors import PermanentEventError, is_transient, sanitized_message
from openrcm_shared.messaging.outbox import stage_events
from openrcm_shared.messaging.tables import inbox
from openrcm_shared.observability import (
    EVENT_PROCESSING_DURATION, EVENTS_DEAD_LETTERED, EVENTS_DUPLICATE, EVENTS_PROCESSED, EVENTS_RETRIED,
    EVENTS_SKIPPED, context_from_traceparent, reset_correlation_id, set_correlation_id, tracer,
)

log = logging.getLogger(__name__)


@dataclass
class HandlerContext:
    """What a handler gets: the transaction it must use, the envelope, and a way to emit events."""

    conn: AsyncConnection
    envelope: Envelope
    source: str
    aggregate_type: str
    staged: list[IntegrationEvent] = field(default_factory=list)

    @property
    def tenant_id(self) -> str:
        return self.envelope.tenant_id

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
        max_attempts: int = 8,
        base_backoff_seconds: float = 0.1,
        max_backoff_seconds: float = 5.0,
        on_events_staged: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.consumer = consumer
        self.dlq_producer = dlq_producer
        self.group_id = group_id
        self.handlers = {s.contract.event_type: s for s in subscriptions}
        self.source = source
        self.aggregate_type = aggregate_type
        self.max_attempts = max_attempts
        self.base_backoff_seconds = base_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.on_events_staged = on_events_staged

    async def run(self) -> None:
        """Consume until cancelled. The consumer must already be started."""
        while True:
            batches = await self.consumer.getmany(timeout_ms=500, max_records=500)
            for tp, records in batches.items():
                await self._process_partition_batch(tp, records)

    async def _process_partition_batch(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        """Apply records in order, then commit the offset after the last one applied.

        If a record cannot even be dead-lettered (the broker is down), the offsets of the
        records before it are committed and the partition is rewound to it, so it comes back.
        """
        done = None
        for record in records:
            try:
                await self.process(record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("record not settled; rewinding partition", extra={"error_class": type(exc).__name__})
                self.consumer.seek(tp, record.offset)
                await asyncio.sleep(1.0)
                break
            done = record.offset + 1
        if done is not None:
            try:
                await self.commit_offset(tp, done)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # rebalance or broker outage: redelivery is deduplicated by the inbox
                log.warning("offset commit failed", extra={"error_class": type(exc).__name__})

    async def commit_offset(self, tp: TopicPartition, next_offset: int) -> None:
        await self.consumer.commit({tp: OffsetAndMetadata(next_offset, "")})

    async def process(self, record: ConsumerRecord) -> str:
        """Apply one record; returns the outcome (processed, duplicate, skipped, dead_lettered)."""
        started = time.perf_counter()
        try:
            envelope = Envelope.from_headers(record.headers)
        except EnvelopeError as exc:
            await self.dead_letter(record, exc, attempts=1, event_type="unknown")
            return "dead_lettered"
        subscription = self.handlers.get(envelope.type)
        if subscription is None:
            EVENTS_SKIPPED.labels(self.group_id).inc()
            return "skipped"
        token = set_correlation_id(envelope.correlation_id)
        try:
            with tracer().start_as_current_span(
                f"consume {envelope.type}", context=context_from_traceparent(envelope.traceparent),
                kind=trace.SpanKind.CONSUMER,
                attributes={"messaging.system": "kafka", "messaging.destination.name": record.topic,
                            "messaging.consumer.group.name": self.group_id},
            ):
                outcome = await self._apply_with_retries(record, envelope, subscription)
        finally:
            reset_correlation_id(token)
        EVENT_PROCESSING_DURATION.labels(self.group_id).observe(time.perf_counter() - started)
        return outcome

    async def _apply_with_retries(self, record: ConsumerRecord, envelope: Envelope, subscription: Subscription) -> str:
        try:
            data = subscription.contract.model_validate_json(record.value or b"")
        except ValidationError as exc:
            await self.dead_letter(record, exc, attempts=1, event_type=envelope.type)
            return "dead_lettered"
        attempt = 0
        while True:
            attempt += 1
            try:
                applied = await self.apply(envelope, data, subscription)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc) and attempt < self.max_attempts:
                    EVENTS_RETRIED.labels(self.group_id).inc()
                    await asyncio.sleep(self.backoff(attempt))
                    continue
                if not isinstance(exc, PermanentEventError) and not is_transient(exc):
                    log.exception("handler failed", extra={"event_type": envelope.type})
                await self.dead_letter(record, exc, attempts=attempt, event_type=envelope.type)
                return "dead_lettered"
            if applied:
                EVENTS_PROCESSED.labels(self.group_id, envelope.type).inc()
                return "processed"
            EVENTS_DUPLICATE.labels(self.group_id, envelope.type).inc()
            return "duplicate"

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (AWS Architecture Blog, 'Exponential Backoff And Jitter')."""
        ceiling = min(self.max_backoff_seconds, self.base_backoff_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    async def apply(self, envelope: Envelope, data: IntegrationEvent, subscription: Subscription) -> bool:
        """Inbox row and the handler's effects in one transaction; False when already applied."""
        async with self.engine.begin() as conn:
            claimed = await conn.execute(
                pg_insert(inbox)
                .values(consumer_group=self.group_id, event_id=envelope.id, event_type=envelope.type)
                .on_conflict_do_nothing()
                .returning(inbox.c.event_id)
            )
            if claimed.first() is None:
                return False
            context = HandlerContext(conn=conn, envelope=envelope, source=self.source,
                                     aggregate_type=self.aggregate_type)
            await subscription.handler(context, data)
        if context.staged and self.on_events_staged:
            self.on_events_staged()
        return True

    async def dead_letter(self, record: ConsumerRecord, error: BaseException, *, attempts: int, event_type: str) -> None:
        """Send the original record, untouched, to this group's DLQ with the reason in headers."""
        error_class = type(error).__name__
        headers = list(record.headers or ()) + [
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
