"""Staging events in the outbox, inside the caller's transaction.

Guarantee: an event is staged in the same database transaction as the state change it
announces, so either both commit or neither does. The relay publishes it later.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.db import copy_rows
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


def _envelope(event: IntegrationEvent, source: str, cause: Envelope | None, traceparent: str | None) -> Envelope:
    return Envelope.new(
        type=event.event_type,
        source=source,
        subject=event.key(),
        tenant_id=event.tenant_id,
        correlation_id=cause.correlation_id if cause else current_correlation_id(),
        causation_id=str(cause.id) if cause else None,
        traceparent=traceparent,
    )


def outbox_row(event: IntegrationEvent, envelope: Envelope, aggregate_type: str) -> dict:
    return {
        "event_id": envelope.id,
        "tenant_id": event.tenant_id,
        "aggregate_type": aggregate_type,
        "aggregate_id": event.key(),
        "event_type": event.event_type,
        "topic": event.topic,
        "payload": event.model_dump_json().encode(),
        "headers": {name: value.decode() for name, value in envelope.to_headers()},
    }


async def stage_events(
    conn: AsyncConnection,
    events: Iterable[IntegrationEvent],
    *,
    source: str,
    aggregate_type: str,
    cause: Envelope | None = None,
) -> list[Envelope]:
    """Write events to the outbox on `conn` (which must be inside the state change's transaction)."""
    rows, envelopes = [], []
    traceparent = current_traceparent()  # one trace context for the whole call (an 837 file stages hundreds)
    for event in events:
        envelope = _envelope(event, source, cause, traceparent)
        rows.append(outbox_row(event, envelope, aggregate_type))
        envelopes.append(envelope)
    if len(rows) >= BULK_ROWS:
        await copy_rows(conn, outbox, rows)
    elif rows:
        await conn.execute(outbox.insert(), rows)
    _STAGED_IN_TASK.set(_STAGED_IN_TASK.get() + len(rows))
    return envelopes


def staged_count() -> int:
    """How many events the current task has staged so far. Compare before and after a unit of
    work: a writer that staged nothing need not wake the relay (a wake costs the relay a query)."""
    return _STAGED_IN_TASK.get()
