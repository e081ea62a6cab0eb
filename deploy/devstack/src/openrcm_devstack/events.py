"""Operations tools on the event streams: `events tail` and the DLQ list / replay."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import TopicPartition

from openrcm_devstack.topics import load_catalogue
from openrcm_shared.messaging.envelope import header
from openrcm_shared.messaging.kafka import KafkaSecurity, admin_client, reading_consumer, reliable_producer
from openrcm_shared.messaging.parking import skip_marker

# The data fields worth a glance, in the order they are printed (ids, statuses, amounts; no PHI).
KEY_FIELDS = ("to_status", "outcome", "coverage_active", "total_charge", "paid_amount", "patient_responsibility_amount",
              "denied_amount", "payment_amount", "amount", "balance", "primary_carc", "claim_count")


async def topic_partitions(bootstrap_servers: str, topics: list[str], *,
                           security: KafkaSecurity | None = None) -> list[TopicPartition]:
    """Every partition of the given topics that exist (asked of the broker, not a cached view)."""
    admin = admin_client(bootstrap_servers, client_id="openrcm-tools", security=security)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described if not t["error_code"]
            for p in t["partitions"]]


def describe(record) -> str:
    """One readable line: time, type, subject, tenant and the key fields."""
    headers = record.headers or ()
    event_type = header(headers, "ce_type") or "?"
    short_type = event_type.removeprefix("org.openrcm.")
    try:
        data = json.loads(record.value) if record.value else {}
    except ValueError:
        data = {}
    fields = " ".join(f"{name}={data[name]}" for name in KEY_FIELDS if isinstance(data, dict) and name in data)
    return (f"{header(headers, 'ce_time') or '-'}  {short_type:<45} subject={header(headers, 'ce_subject') or '-'} "
            f"tenant={header(headers, 'ce_tenantid') or '-'} {fields}").rstrip()


@dataclass
class TailFilter:
    event_types: tuple[str, ...] = ()
    claim_id: str | None = None

    def matches(self, record) -> bool:
        headers = record.headers or ()
        event_type = header(headers, "ce_type") or ""
        if self.event_types and not any(wanted in event_type for wanted in self.event_types):
            return False
        if self.claim_id:
            if header(headers, "ce_subject") == self.claim_id:
                return True
            return bool(record.value) and self.claim_id.encode() in record.value
        return True


async def tail(bootstrap_servers: str, event_filter: TailFilter, *, from_beginning: bool = False,
               limit: int | None = None, idle_timeout: float | None = None,
               out: Callable[[str], None] = print, security: KafkaSecurity | None = None) -> int:
    """Follow every event topic (not DLQs) and print matching events; returns how many were printed."""
    topics = [spec.name for spec in load_catalogue() if not spec.name.endswith(".dlq")]
    consumer = reading_consumer(bootstrap_servers, client_id="openrcm-events-tail", security=security)
    partitions = await topic_partitions(bootstrap_servers, topics, security=security)
    await consumer.start()
    printed = 0
    try:
        consumer.assign(partitions)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        idle = 0.0
        while limit is None or printed < limit:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                idle += 0.5
                if idle_timeout is not None and idle >= idle_timeout:
                    break
                continue
            idle = 0.0
            records = sorted((r for rs in batches.values() for r in rs), key=lambda r: r.timestamp)
            for record in records:
                if event_filter.matches(record):
                    out(describe(record))
                    printed += 1
                    if limit is not None and printed >= limit:
                        break
    finally:
        await consumer.stop()
    return printed


async def read_dlq(bootstrap_servers: str, dlq_topics: list[str] | None = None, *,
                   security: KafkaSecurity | None = None) -> list:
    """Every record now in the DLQ topics (up to their current end)."""
    topics = dlq_topics or [spec.name for spec in load_catalogue() if spec.name.endswith(".dlq")]
    return await read_all(bootstrap_servers, topics, security=security)


async def read_all(bootstrap_servers: str, topics: list[str], *, security: KafkaSecurity | None = None) -> list:
    """Every record now in the given topics, from the beginning up to their current end."""
    consumer = reading_consumer(bootstrap_servers, client_id="openrcm-reader", security=security)
    partitions = await topic_partitions(bootstrap_servers, topics, security=security)
    if not partitions:
        return []
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records = []
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, rs in batches.items():
                records.extend(r for r in rs if r.offset < end[tp])
                if rs and rs[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


async def consumer_lag(bootstrap_servers: str, topic: str, groups: list[str], *,
                       security: KafkaSecurity | None = None) -> dict[str, int]:
    """For each consumer group, how many of the topic's records it has not committed yet (the
    partitions' end offsets less the group's committed ones; a partition it never committed
    counts from its start)."""
    partitions = await topic_partitions(bootstrap_servers, [topic], security=security)
    consumer = reading_consumer(bootstrap_servers, client_id="openrcm-tools", security=security)
    admin = admin_client(bootstrap_servers, client_id="openrcm-tools", security=security)
    await consumer.start()
    await admin.start()
    try:
        end = await consumer.end_offsets(partitions)
        start = await consumer.beginning_offsets(partitions)
        lag = {}
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            lag[group] = sum(end[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0
                                        else start[tp]) for tp in partitions)
        return lag
    finally:
        await admin.close()
        await consumer.stop()


def describe_dead_letter(record) -> str:
    h = record.headers or ()
    return (f"{record.topic}@{record.offset}  {header(h, 'dlq_reason') or 'failed'}  "
            f"ce_id={header(h, 'ce_id')} type={header(h, 'ce_type')} "
            f"from={header(h, 'dlq_original_topic')}/{header(h, 'dlq_original_partition')}@"
            f"{header(h, 'dlq_original_offset')} attempts={header(h, 'dlq_attempts')} "
            f"error={header(h, 'dlq_error_class')}: {header(h, 'dlq_error_message')}")


async def replay(bootstrap_servers: str, dlq_topic_name: str, offsets: list[int] | None = None, *,
                 security: KafkaSecurity | None = None) -> int:
    """Re-publish dead letters to their original topic, same key, value and ce_id, in DLQ order.

    Safe to repeat: every consumer group's inbox recognises a ce_id it has already applied. Events
    of a parked key are applied in their original order (openrcm_shared.messaging.parking): one
    replayed before its turn is dead-lettered again and waits for the next replay.
    """
    records = [r for r in await read_dlq(bootstrap_servers, [dlq_topic_name], security=security)
               if offsets is None or r.offset in offsets]
    producer = reliable_producer(bootstrap_servers, client_id="openrcm-dlq-replay", security=security)
    await producer.start()
    try:
        for record in records:
            headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq_")]
            await producer.send_and_wait(header(record.headers, "dlq_original_topic"), value=record.value,
                                         key=record.key, headers=headers)
    finally:
        await producer.stop()
    return len(records)


async def skip(bootstrap_servers: str, dlq_topic_name: str, offsets: list[int], *,
               security: KafkaSecurity | None = None) -> int:
    """Tell the consumer group of `dlq_topic_name` never to apply the dead letters at `offsets`:
    a skip marker per dead letter, published to its original topic with its key, so it reaches
    the group's consumer in order with that key's events; the key's later parked events can then
    be replayed. Returns how many markers were published."""
    records = [r for r in await read_dlq(bootstrap_servers, [dlq_topic_name], security=security)
               if r.offset in offsets]
    markers = [(header(r.headers, "dlq_original_topic"), skip_marker(r)) for r in records]
    producer = reliable_producer(bootstrap_servers, client_id="openrcm-dlq-skip", security=security)
    await producer.start()
    try:
        for topic, (key, value, headers) in markers:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()
    return len(markers)


def run_sync(coroutine):
    try:
        return asyncio.run(coroutine)
    except KeyboardInterrupt:
        sys.exit(130)
