"""Keys parked behind an event that failed for good: a key's events take effect in the order they
were published, even across a dead letter.

Why: a claim's events are keyed by claim id so that they are applied in order. If a
`ClaimPaymentPosted` is dead-lettered and the consumer moved on, the `ClaimReversed` after it
would be applied first (the patient's account credited before it was ever charged), and a replay
of the payment later would apply it after the reversal. So, per consumer group:

- When an event fails for good (a permanent error, or data its contract rejects), it goes to the
  group's DLQ and its key (topic and Kafka key) is *parked*: `parked_events` lists, in order, that
  event and every later event of the key, each sent to the DLQ too (reason `parked`, naming the
  event it waits behind). Other keys, and other events of the partition, keep flowing.
- An event of a parked key is applied only when it is the first one still listed (the head):
  replaying the DLQ re-publishes its records in DLQ order, which for one key is the order they
  were parked in, so they are applied in their original order; an event replayed ahead of its
  turn is dead-lettered again and keeps its place. The key is free once its last listed event
  has been applied.
- An operator who decides an event must never take effect skips it instead: a skip marker
  (`SKIP_EVENT_TYPE`, built by `skip_marker`) published to the event's topic with its key
  reaches the group's consumer in order with the key's other events; the event leaves the list
  and is recorded in the inbox, so a later replay of it is a no-op.

A record without a readable CloudEvents envelope is dead-lettered without parking its key: it has
no event id to replay or skip it by, and replaying the same bytes could never apply it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_shared.messaging.envelope import SPEC_VERSION, header
from openrcm_shared.messaging.tables import inbox, parked_events

# The type of a skip marker: an operator's instruction on the event stream, not a domain event.
# Every consumer reads its type header; only the group it names acts on it, the others skip it
# as a type they do not handle.
SKIP_EVENT_TYPE = "org.openrcm.operations.event_skipped.v1"
OPERATIONS_SOURCE = "/openrcm/operations"

_KEYS_AMONG = sa.text(
    "SELECT DISTINCT event_key FROM parked_events "
    "WHERE consumer_group = :group AND topic = :topic AND event_key = ANY(:keys)"
).bindparams(sa.bindparam("keys", type_=pg.ARRAY(sa.LargeBinary)))

# The head is locked, so parking behind it and applying it (or skipping it) take turns.
_HEAD = (sa.select(parked_events.c.event_id)
         .where(parked_events.c.consumer_group == sa.bindparam("group"),
                parked_events.c.topic == sa.bindparam("topic"),
                parked_events.c.event_key == sa.bindparam("key"))
         .order_by(parked_events.c.position).limit(1).with_for_update())


@dataclass(frozen=True)
class ParkedEvent:
    """What a consumer parks: which event, of which key, from where in the partition."""

    event_id: UUID
    event_type: str
    topic: str
    key: bytes
    partition: int
    offset: int


class ParkedKeys:
    """The parked keys of one consumer group, in its service's database."""

    def __init__(self, consumer_group: str) -> None:
        self.consumer_group = consumer_group

    async def among(self, conn: AsyncConnection, topic: str, keys: set[bytes]) -> set[bytes]:
        """Which of `keys` of `topic` are parked now."""
        if not keys:
            return set()
        rows = await conn.execute(_KEYS_AMONG, {"group": self.consumer_group, "topic": topic, "keys": list(keys)})
        return {bytes(row[0]) for row in rows}

    async def head(self, conn: AsyncConnection, topic: str, key: bytes) -> UUID | None:
        """The first event still parked for the key (locked until the transaction ends), or None
        when the key is not parked."""
        return (await conn.execute(_HEAD, {"group": self.consumer_group, "topic": topic, "key": key})).scalar()

    async def park(self, conn: AsyncConnection, event: ParkedEvent, *, reason: str) -> None:
        """Add the event at the end of its key's list; an event listed already keeps its place."""
        await conn.execute(pg_insert(parked_events).values(
            consumer_group=self.consumer_group, event_id=event.event_id, topic=event.topic, event_key=event.key,
            event_type=event.event_type, reason=reason, original_partition=event.partition,
            original_offset=event.offset).on_conflict_do_nothing())

    async def release(self, conn: AsyncConnection, event_id: UUID) -> tuple[str, bytes] | None:
        """Take the event off its key's list; returns its (topic, key), or None if it was not listed."""
        row = (await conn.execute(parked_events.delete().where(
            parked_events.c.consumer_group == self.consumer_group, parked_events.c.event_id == event_id)
            .returning(parked_events.c.topic, parked_events.c.event_key))).first()
        return (row.topic, bytes(row.event_key)) if row else None

    async def is_parked(self, conn: AsyncConnection, topic: str, key: bytes) -> bool:
        return bool(await self.among(conn, topic, {key}))

    async def count(self, conn: AsyncConnection) -> int:
        """How many keys of this group are parked (for the gauge)."""
        return (await conn.execute(sa.select(sa.func.count(sa.distinct(
            sa.tuple_(parked_events.c.topic, parked_events.c.event_key))))
            .where(parked_events.c.consumer_group == self.consumer_group))).scalar_one()

    async def skip(self, conn: AsyncConnection, skip: "SkipInstruction") -> tuple[str, bytes] | None:
        """An operator's skip: the event leaves its key's list and is recorded in the inbox as
        if applied, so it never takes effect, whenever it comes again. Returns the (topic, key)
        it was parked under, if it was."""
        await conn.execute(pg_insert(inbox).values(consumer_group=self.consumer_group, event_id=skip.event_id,
                                                   event_type=skip.event_type).on_conflict_do_nothing())
        return await self.release(conn, skip.event_id)


@dataclass(frozen=True)
class SkipInstruction:
    """A skip marker's content: which event one consumer group must never apply."""

    consumer_group: str
    event_id: UUID
    event_type: str


def skip_marker(dead_letter) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:  # noqa: ANN001 - ConsumerRecord
    """The record (key, value, headers) that tells the group whose DLQ holds `dead_letter` never to
    apply its event. Published to the dead letter's original topic with its key, it reaches the
    consumer in order with that key's events. Raises ValueError for a dead letter without an
    event id (it was never parked)."""
    headers = dead_letter.headers or ()
    event_id, group = header(headers, "ce_id"), header(headers, "dlq_consumer_group")
    try:
        UUID(event_id or "")
    except ValueError:
        raise ValueError("the dead letter has no readable ce_id; nothing to skip") from None
    if not group:
        raise ValueError("the dead letter names no consumer group (dlq_consumer_group)")
    value = json.dumps({"consumer_group": group, "event_id": event_id,
                        "event_type": header(headers, "ce_type") or "unknown"}).encode()
    marker_headers = {"ce_specversion": SPEC_VERSION, "ce_id": str(uuid.uuid4()), "ce_type": SKIP_EVENT_TYPE,
                      "ce_source": OPERATIONS_SOURCE, "ce_subject": event_id,
                      "ce_tenantid": header(headers, "ce_tenantid") or "system",
                      "ce_time": datetime.now(timezone.utc).isoformat(), "content-type": "application/json"}
    return dead_letter.key, value, [(name, text.encode()) for name, text in marker_headers.items()]


def read_skip_marker(record) -> SkipInstruction | None:  # noqa: ANN001 - ConsumerRecord
    """The instruction a skip marker carries, or None for a malformed one (nothing to act on)."""
    try:
        content = json.loads(record.value or b"")
        return SkipInstruction(consumer_group=str(content["consumer_group"]), event_id=UUID(content["event_id"]),
                               event_type=str(content["event_type"]))
    except (ValueError, KeyError, TypeError):
        return None
