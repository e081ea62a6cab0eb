"""Staging events in the outbox, inside the caller's transaction.

Guarantee: an event is staged in the same database transaction as the state change it
announces, so either both commit or neither does. The relay publishes it later.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared import pg_copy
from openrcm_shared.pg_copy import CopyData, copy_data
from openrcm_shared.messaging.envelope import Envelope
from openrcm_shared.messaging.tables import outbox
from openrcm_shared.observability import current_correlation_id, current_traceparent


# Events staged so far by the current task (a request, a consumer): lets a writer wake the relay
# only when its transaction really staged something (see staged_count).
_STAGED_IN_TASK: ContextVar[int] = ContextVar("openrcm_events_staged_in_task", default=0)

# From this many events on, COPY is used (a bulk posting); a single state change keeps the INSERT.
BULK_ROWS = 50


def build_envelope(event: IntegrationEvent, *, source: str, cause: Envelope | None = None) -> Envelope:
    """Envelope for a new event: caused by `cause` (a consumed event) or by the current request."""
    return _envelope(event, source, cause, current_traceparent())


def _envelope(event: IntegrationEvent, source: str, cause: Envelope | None, traceparent: str | None,
              correlation_id: str | None = None) -> Envelope:
    return Envelope.new(
        type=event.event_type,
        source=source,
        subject=event.key(),
        tenant_id=event.tenant_id,
        correlation_id=cause.correlation_id if cause else (correlation_id or current_correlation_id()),
        causation_id=str(cause.id) if cause else None,
        traceparent=traceparent,
    )


OUTBOX_COLUMNS = ("event_id", "tenant_id", "aggregate_type", "aggregate_id", "event_type", "topic", "payload",
                  "headers")


def _outbox_values(event: IntegrationEvent, envelope: Envelope, aggregate_type: str) -> tuple:
    """The outbox columns of one event, in OUTBOX_COLUMNS order."""
    headers = envelope.header_values()
    for name, value in envelope.extra_headers:
        headers[name] = value.decode()
    return (envelope.id, event.tenant_id, aggregate_type, event.key(), event.event_type, event.topic,
            event.model_dump_json().encode(), headers)


def outbox_row(event: IntegrationEvent, envelope: Envelope, aggregate_type: str) -> dict:
    return dict(zip(OUTBOX_COLUMNS, _outbox_values(event, envelope, aggregate_type)))


async def stage_events(
    conn: AsyncConnection,
    events: Iterable[IntegrationEvent],
    *,
    source: str,
    aggregate_type: str,
    cause: Envelope | None = None,
) -> list[Envelope]:
    """Write events to the outbox on `conn` (which must be inside the state change's transaction)."""
    traceparent = current_traceparent()  # one trace context for the whole call (an 837 file stages hundreds)
    staged = [(envelope := _envelope(event, source, cause, traceparent),
               _outbox_values(event, envelope, aggregate_type)) for event in events]
    if len(staged) >= BULK_ROWS:
        await stage_copy(conn, CopyData(outbox.name, OUTBOX_COLUMNS, [_copy_line(values) for _, values in staged]))
    elif staged:
        await conn.execute(outbox.insert(), [dict(zip(OUTBOX_COLUMNS, values)) for _, values in staged])
        _STAGED_IN_TASK.set(_STAGED_IN_TASK.get() + len(staged))
    return [envelope for envelope, _ in staged]


def _copy_line(values: tuple) -> str:
    """One outbox row as COPY text, formatted by column type (a bulk posting stages one per claim)."""
    event_id, tenant_id, aggregate_type, aggregate_id, event_type, topic, payload, headers = values
    text = pg_copy.text
    return (f"{event_id}\t{text(tenant_id)}\t{text(aggregate_type)}\t{text(aggregate_id)}\t{text(event_type)}\t"
            f"{text(topic)}\t{pg_copy.bytea(payload)}\t{pg_copy.jsonb(headers)}\n")


def outbox_copy(events: Iterable[IntegrationEvent], *, source: str, aggregate_type: str,
                correlation_id: str | None, traceparent: str | None) -> CopyData:
    """Outbox rows for `events` in COPY text form, built anywhere (a worker process of a bulk
    posting): the request's correlation id and trace context are passed in, not read from the
    context. Write them with `stage_copy` inside the state change's transaction."""
    return CopyData(outbox.name, OUTBOX_COLUMNS, [
        _copy_line(_outbox_values(event, _envelope(event, source, None, traceparent, correlation_id), aggregate_type))
        for event in events])


async def stage_copy(conn: AsyncConnection, copy: CopyData) -> None:
    """Write outbox rows built by `outbox_copy` on `conn` (inside the state change's transaction)."""
    await copy_data(conn, copy)
    _STAGED_IN_TASK.set(_STAGED_IN_TASK.get() + copy.rows)


def staged_count() -> int:
    """How many events the current task has staged so far. Compare before and after a unit of
    work: a writer that staged nothing need not wake the relay (a wake costs the relay a query)."""
    return _STAGED_IN_TASK.get()
