"""Delivery guarantees of the outbox relay and the inbox consumer, on real Kafka and PostgreSQL.

Each test gets its own topic (and DLQ topic) and a scratch database migrated with the
collections service's scripts, whose ClaimPaymentPosted and ClaimReversed handlers have visible
effects (ledger entries with the balance after each, in order) that must happen exactly once. The
consumer and the relay connect as the service's app and system roles, so every guarantee is tested
under row-level security.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import OutOfOrderSequenceNumber

from openrcm_collections.adapters.tables import ledger_entries, patient_accounts
from openrcm_collections.service_layer.accounts import on_claim_payment_posted, on_claim_reversed
from openrcm_devstack import events as ops_events
from openrcm_shared.contracts.remittance import Adjustment, ClaimPaymentPosted, ClaimReversed, PostedLine
from openrcm_shared.contracts.topics import dlq_topic
from openrcm_shared.messaging.consumer import InboxConsumer, MergedUpsert, Subscription
from openrcm_shared.messaging.envelope import Envelope, header
from openrcm_shared.messaging.errors import PermanentEventError, TransientEventError
from openrcm_shared.messaging.kafka import manual_commit_consumer, reliable_producer
from openrcm_shared.messaging.outbox import build_envelope, outbox_row
from openrcm_shared.db import create_engine
from openrcm_shared.health import router as health_router
from openrcm_shared.messaging.relay import OutboxRelay, RelayWaker
from openrcm_shared.messaging.tables import idempotency_keys, outbox, outbox_set_aside, parked_events
from openrcm_devstack.postgres import role_password
from openrcm_shared.db import role_url
from openrcm_shared.row_security import app_role
from openrcm_shared.security.context import acting_for
from tests.support import eventually, role_engine_fixtures, scratch_database_fixtures

pytestmark = pytest.mark.stack

GROUP = "component"


class SimulatedCrash(BaseException):
    """Stands for the process being killed: not an Exception, so no handler catches it."""


class RecordingConsumer(InboxConsumer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: list[str] = []

    async def process(self, record):
        outcome = await super().process(record)
        self.outcomes.append(outcome)
        return outcome


database_url, engine = scratch_database_fixtures("openrcm_component", migrations_of="collections", pool_size=4)
# The consumer runs as the service's app role and the relay as its system role, as in a service
# (row-level security); `engine` (the owner) looks at what they did, whatever the practice.
app_engine, system_engine = role_engine_fixtures("collections", pool_size=4)


async def create_topics(infra, *topics: NewTopic) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(list(topics))
    finally:
        await admin.close()


async def create_topic(infra, partitions: int = 1, *, with_dlq: bool = True, **configs: str) -> str:
    """A topic of its own for one test, with its DLQ for GROUP (unless `with_dlq` is False)."""
    name = f"test.component.{uuid.uuid4().hex[:8]}"
    await create_topics(infra, NewTopic(name, partitions, 1, topic_configs=configs),
                        *([NewTopic(dlq_topic(name, GROUP), 1, 1)] if with_dlq else []))
    return name


@pytest.fixture
async def topic(infra):
    return await create_topic(infra)


@pytest.fixture
async def producer(infra):
    producer = reliable_producer(infra.kafka.bootstrap_servers, client_id="component-test")
    await producer.start()
    yield producer
    await producer.stop()


def payment_posted(tenant: str, patient_id: str, coinsurance: str = "20.00",
                   claim_id: uuid.UUID | None = None) -> ClaimPaymentPosted:
    return ClaimPaymentPosted(
        tenant_id=tenant, claim_id=claim_id or uuid.uuid4(), remittance_id=uuid.uuid4(), patient_id=patient_id,
        payer_id="60054", patient_control_number="RTEST0001", outcome="paid", charge_amount=Decimal("100.00"),
        allowed_amount=Decimal("80.00"), paid_amount=Decimal("60.00"),
        patient_responsibility_amount=Decimal(coinsurance),
        adjustments=[Adjustment(line_number=1, group_code="CO", carc="45", amount=Decimal("20.00")),
                     Adjustment(line_number=1, group_code="PR", carc="2", amount=Decimal(coinsurance))],
        lines=[PostedLine(line_number=1, charge_amount=Decimal("100.00"), allowed_amount=Decimal("80.00"),
                          paid_amount=Decimal("60.00"), patient_responsibility_amount=Decimal(coinsurance))])


def claim_reversed(posted: ClaimPaymentPosted) -> ClaimReversed:
    """The payer takes back `posted` (CLP02 22): its patient share comes off the account."""
    return ClaimReversed(
        tenant_id=posted.tenant_id, claim_id=posted.claim_id, remittance_id=uuid.uuid4(), patient_id=posted.patient_id,
        payer_id=posted.payer_id, patient_control_number=posted.patient_control_number,
        reversed_paid_amount=posted.paid_amount,
        reversed_patient_responsibility_amount=posted.patient_responsibility_amount,
        reversed_adjustments=posted.adjustments)


async def publish(producer: AIOKafkaProducer, topic: str, event, *, payload: bytes | None = None,
                  event_type: str | None = None, partition: int | None = None):
    envelope = build_envelope(event, source="/test")
    headers = [(k, v.encode() if isinstance(v, str) else v) for k, v in
               (outbox_row(event, envelope, "test")["headers"]).items()]
    if event_type:
        headers = [(k, event_type.encode() if k == "ce_type" else v) for k, v in headers]
    await producer.send_and_wait(topic, value=payload if payload is not None else event.model_dump_json().encode(),
                                 key=event.key().encode(), headers=headers, partition=partition)
    return envelope


def payments_and_reversals(handler=on_claim_payment_posted) -> list[Subscription]:
    return [Subscription(ClaimPaymentPosted, handler), Subscription(ClaimReversed, on_claim_reversed)]


async def start_consumer(infra, engine, producer, topic, handler=on_claim_payment_posted, cls=RecordingConsumer,
                         subscriptions: list[Subscription] | None = None, dlq_producer=None,
                         client_id: str = "component-test"):
    kafka_consumer = manual_commit_consumer(infra.kafka.bootstrap_servers, topic, group_id=GROUP,
                                            client_id=client_id)
    await kafka_consumer.start()
    consumer = cls(engine=engine, consumer=kafka_consumer, dlq_producer=dlq_producer or producer, group_id=GROUP,
                   subscriptions=subscriptions or [Subscription(ClaimPaymentPosted, handler)], source="/test",
                   aggregate_type="patient_account", base_backoff_seconds=0.01, max_backoff_seconds=0.05,
                   max_attempts=4)
    return consumer, asyncio.create_task(consumer.run())


async def stop_consumer(consumer, task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await consumer.consumer.stop()


async def ledger(engine, tenant: str):
    async with engine.connect() as conn:
        entries = (await conn.execute(sa.select(ledger_entries.c.amount)
                                      .where(ledger_entries.c.tenant_id == tenant))).scalars().all()
        balance = (await conn.execute(sa.select(patient_accounts.c.balance)
                                      .where(patient_accounts.c.tenant_id == tenant))).scalar()
    return entries, balance


async def account_ledger(engine, tenant: str, patient_id: str) -> list[tuple[Decimal, Decimal]]:
    """A patient's ledger in posting order: (amount, balance after it)."""
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(
            sa.select(ledger_entries.c.amount, ledger_entries.c.balance_after)
            .where(ledger_entries.c.tenant_id == tenant, ledger_entries.c.patient_id == patient_id)
            .order_by(ledger_entries.c.id))]


async def committed_offset(consumer, topic: str, partition: int = 0) -> int | None:
    return await consumer.consumer.committed(TopicPartition(topic, partition))


async def consume_until_committed(infra, engine, producer, topic, offset: int | dict[int, int], **consumer_options):
    """Run a consumer until it has committed `offset` on the topic's partition 0 (or, for a
    {partition: offset} map, on each of those partitions), then stop it; returns it."""
    offsets = offset if isinstance(offset, dict) else {0: offset}
    consumer, task = await start_consumer(infra, engine, producer, topic, **consumer_options)
    try:
        async def settled():
            assert {p: await committed_offset(consumer, topic, p) for p in offsets} == offsets
            return True
        await eventually(settled)
    finally:
        await stop_consumer(consumer, task)
    return consumer


async def test_consumer_killed_between_database_commit_and_offset_commit_has_no_second_effect(
        infra, engine, producer, topic, tenant, app_engine):
    await publish(producer, topic, payment_posted(tenant, "PAT-1"))

    class CrashBeforeOffsetCommit(RecordingConsumer):
        async def commit_offsets(self, offsets):
            raise SimulatedCrash()

    first, task = await start_consumer(infra, app_engine, producer, topic, cls=CrashBeforeOffsetCommit)
    with pytest.raises(SimulatedCrash):
        await asyncio.wait_for(task, 30)
    await first.consumer.stop()  # the dead process leaves its group without committing
    assert first.outcomes == ["processed"]
    assert await ledger(engine, tenant) == ([Decimal("20.00")], Decimal("20.00"))

    second, task = await start_consumer(infra, app_engine, producer, topic)
    try:
        async def redelivered():
            assert second.outcomes == ["duplicate"], second.outcomes
            assert await committed_offset(second, topic) == 1
            return True
        await eventually(redelivered)
    finally:
        await stop_consumer(second, task)
    assert await ledger(engine, tenant) == ([Decimal("20.00")], Decimal("20.00"))


async def test_relay_killed_after_broker_ack_and_before_marking_republishes_harmlessly(
        infra, engine, producer, topic, tenant, app_engine, system_engine):
    event = payment_posted(tenant, "PAT-2", coinsurance="35.10")
    async with engine.begin() as conn:
        row = outbox_row(event, build_envelope(event, source="/test"), "remittance")
        await conn.execute(outbox.insert().values(**{**row, "topic": topic}))

    class CrashBeforeDeleting(OutboxRelay):
        async def delete_published(self, ids):
            raise SimulatedCrash()

    async def still_staged():
        async with engine.connect() as conn:
            return (await conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                       .where(outbox.c.event_id == row["event_id"]))).scalar_one() == 1

    with pytest.raises(SimulatedCrash):
        await CrashBeforeDeleting(system_engine, producer, service_name="component").relay_once()
    assert await still_staged()  # acknowledged by the broker, but not deleted
    await OutboxRelay(system_engine, producer, service_name="component").relay_once()
    assert not await still_staged()  # published again, then deleted: no row stays behind

    consumer, task = await start_consumer(infra, app_engine, producer, topic)
    try:
        async def both_copies_seen():
            assert consumer.outcomes == ["processed", "duplicate"], consumer.outcomes
            return True
        await eventually(both_copies_seen)
    finally:
        await stop_consumer(consumer, task)
    assert await ledger(engine, tenant) == ([Decimal("35.10")], Decimal("35.10"))


async def test_schema_invalid_event_goes_to_the_dlq_and_the_partition_keeps_flowing(
        infra, engine, producer, topic, tenant, app_engine):
    valid = payment_posted(tenant, "PAT-3")
    # One partition, in this order: invalid, unknown type, another claim's event, a valid event of
    # the invalid one's claim (parked behind it: a claim's events take effect in order).
    broken = valid.model_dump(mode="json")
    del broken["paid_amount"]
    broken["patient_id"] = "PHI-LIKE-VALUE-123"
    bad_envelope = await publish(producer, topic, valid, payload=json.dumps(broken).encode())
    await publish(producer, topic, valid, event_type="org.openrcm.unknown.something_else.v1")
    await publish(producer, topic, payment_posted(tenant, "PAT-4"))
    behind = await publish(producer, topic, valid)

    consumer, task = await start_consumer(infra, app_engine, producer, topic)
    try:
        async def settled():
            assert consumer.outcomes == ["dead_lettered", "skipped", "processed", "parked"], consumer.outcomes
            assert await committed_offset(consumer, topic) == 4
            return True
        await eventually(settled)
    finally:
        await stop_consumer(consumer, task)
    assert await ledger(engine, tenant) == ([Decimal("20.00")], Decimal("20.00"))

    dead, parked = await ops_events.read_dlq(infra.kafka.bootstrap_servers, [dlq_topic(topic, GROUP)])
    assert header(dead.headers, "ce_id") == str(bad_envelope.id)
    assert header(dead.headers, "dlq_error_class") == "ValidationError"
    assert header(dead.headers, "dlq_reason") == "failed"
    assert header(dead.headers, "dlq_original_topic") == topic
    assert header(dead.headers, "dlq_original_partition") == "0"
    assert header(dead.headers, "dlq_original_offset") == "0"
    assert header(dead.headers, "dlq_attempts") == "1"
    assert header(dead.headers, "dlq_consumer_group") == GROUP
    message = header(dead.headers, "dlq_error_message")
    assert "paid_amount" in message and "PHI-LIKE-VALUE" not in message
    assert dead.value == json.dumps(broken).encode()  # the original record, untouched
    assert (header(parked.headers, "ce_id"), header(parked.headers, "dlq_reason")) == (str(behind.id), "parked")


async def test_another_consumers_event_is_skipped_by_its_type_alone(infra, engine, producer, topic, tenant,
                                                                    app_engine):
    """Only the type header of an event no handler takes is read: its other headers, even broken
    ones, are no business of this consumer (no dead letter), between two events applied together."""
    first, second = payment_posted(tenant, "PAT-S1"), payment_posted(tenant, "PAT-S2")
    await publish(producer, topic, first)
    foreign = [(k, v.encode() if isinstance(v, str) else v) for k, v in
               outbox_row(first, build_envelope(first, source="/test"), "test")["headers"].items()]
    foreign = [(k, b"org.openrcm.claims.someone_elses.v1" if k == "ce_type" else b"not-a-uuid" if k == "ce_id" else v)
               for k, v in foreign]
    await producer.send_and_wait(topic, value=b"{}", key=first.key().encode(), headers=foreign)
    await publish(producer, topic, second)

    consumer, task = await start_consumer(infra, app_engine, producer, topic)
    try:
        async def settled():
            assert consumer.outcomes == ["processed", "skipped", "processed"], consumer.outcomes
            assert await committed_offset(consumer, topic) == 3
            return True
        await eventually(settled)
    finally:
        await stop_consumer(consumer, task)
    assert await ops_events.read_dlq(infra.kafka.bootstrap_servers, [dlq_topic(topic, GROUP)]) == []


async def test_transient_failures_are_retried_in_place_and_permanent_ones_replayed_after_a_fix(
        infra, engine, producer, topic, tenant, app_engine):
    state = {"transient_left": 2, "broken": True}

    async def flaky_handler(ctx, event):
        if event.patient_id == "PAT-FLAKY" and state["transient_left"]:
            state["transient_left"] -= 1
            raise TransientEventError("database briefly unavailable")
        if event.patient_id == "PAT-BROKEN" and state["broken"]:
            raise PermanentEventError("fee schedule missing for payer")
        await on_claim_payment_posted(ctx, event)

    await publish(producer, topic, payment_posted(tenant, "PAT-FLAKY", "10.00"))
    broken_envelope = await publish(producer, topic, payment_posted(tenant, "PAT-BROKEN", "5.00"))
    consumer, task = await start_consumer(infra, app_engine, producer, topic, handler=flaky_handler)
    try:
        async def first_pass():
            assert consumer.outcomes == ["processed", "dead_lettered"], consumer.outcomes
            return True
        await eventually(first_pass)
        assert state["transient_left"] == 0  # retried twice, then applied, in order

        [dead] = await ops_events.read_dlq(infra.kafka.bootstrap_servers, [dlq_topic(topic, GROUP)])
        assert header(dead.headers, "dlq_error_class") == "PermanentEventError"
        assert header(dead.headers, "dlq_error_message") == "fee schedule missing for payer"

        state["broken"] = False  # the fix
        assert await ops_events.replay(infra.kafka.bootstrap_servers, dlq_topic(topic, GROUP)) == 1
        assert await ops_events.replay(infra.kafka.bootstrap_servers, dlq_topic(topic, GROUP)) == 1

        async def replayed():
            assert consumer.outcomes == ["processed", "dead_lettered", "processed", "duplicate"], consumer.outcomes
            return True
        await eventually(replayed)
    finally:
        await stop_consumer(consumer, task)
    entries, balance = await ledger(engine, tenant)
    assert sorted(entries) == [Decimal("5.00"), Decimal("10.00")] and balance is not None
    assert str(broken_envelope.id) == header(dead.headers, "ce_id")


async def test_only_one_relay_per_service_publishes(engine, producer, system_engine):
    first = OutboxRelay(system_engine, producer, service_name="component-leader")
    second = OutboxRelay(system_engine, producer, service_name="component-leader")
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        async def one_leader():
            assert [first.holds_lock, second.holds_lock].count(True) == 1
            return True
        await eventually(one_leader, timeout=15)
        await asyncio.sleep(1.5)  # the stand-by keeps trying and keeps failing to take the lock
        assert [first.holds_lock, second.holds_lock].count(True) == 1
        leader, standby, leader_task = (first, second, tasks[0]) if first.holds_lock else (second, first, tasks[1])
        leader_task.cancel()  # the leader's process goes away: the stand-by takes over
        await asyncio.gather(leader_task, return_exceptions=True)

        async def took_over():
            assert standby.holds_lock
            return True
        await eventually(took_over, timeout=15)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_rows_staged_by_another_process_are_published_on_its_notify(database_url, engine, producer, topic,
                                                                          system_engine):
    """An API process (role api) stages events and wakes the worker's relay through PostgreSQL
    NOTIFY: published at once, though the relay's idle poll is far longer than the wait."""
    tenant = f"notify-{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(system_engine, producer, service_name="component-notify", idle_poll_seconds=60)
    # The other process's own pool, as the app role: it stages its practice's events.
    api_engine = create_engine(role_url(database_url, app_role("collections"), role_password()), pool_size=1)
    waker = RelayWaker(api_engine)
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(waker.run())]

    async def stage(patient_id: str) -> int:
        event = payment_posted(tenant, patient_id)
        row = {**outbox_row(event, build_envelope(event, source="/test"), "test"), "topic": topic}
        with acting_for(tenant):
            async with api_engine.begin() as conn:
                return (await conn.execute(outbox.insert().returning(outbox.c.id), row)).scalar_one()

    async def published(row_id: int) -> bool:  # the relay deletes a row once the broker has it
        async with engine.connect() as conn:
            return (await conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                       .where(outbox.c.id == row_id))).scalar_one() == 0

    try:
        async def leading():
            assert relay.holds_lock
            return True
        await eventually(leading, timeout=15)
        await asyncio.sleep(0.2)  # the relay's first (empty) round is over: it now waits on its poll

        unannounced = await stage("PAT-N1")  # staged without a wake: waits for the poll
        await asyncio.sleep(1.0)
        assert not await published(unannounced)

        announced = await stage("PAT-N2")
        waker.wake()

        async def both_published():
            assert await published(announced) and await published(unannounced)  # one round takes all
            return True
        await eventually(both_published, timeout=5, interval=0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await api_engine.dispose()
        async with engine.begin() as conn:
            await conn.execute(outbox.delete().where(outbox.c.tenant_id == tenant))


async def test_rows_the_broker_acknowledged_are_deleted_and_the_rest_wait(engine, producer, topic, system_engine):
    tenant = f"acked-{uuid.uuid4().hex[:8]}"
    events = [payment_posted(tenant, "PAT-P1"), payment_posted(tenant, "PAT-P2")]
    async with engine.begin() as conn:
        rows = [{**outbox_row(e, build_envelope(e, source="/test"), "test"), "topic": topic} for e in events]
        first_id = (await conn.execute(outbox.insert().returning(outbox.c.id), rows[:1])).scalar_one()
        await conn.execute(outbox.insert(), rows[1:])

    class SecondSendFails(OutboxRelay):
        async def publish(self, batch):
            # The broker takes the batch up to our first row; the send after it fails, so the
            # relay stops there (later rows wait for the next round, in order).
            return await super().publish([row for row in batch if row.id <= first_id])

    async def left() -> list:
        async with engine.connect() as conn:
            return (await conn.execute(sa.select(outbox.c.event_id).where(outbox.c.tenant_id == tenant)
                                       .order_by(outbox.c.id))).scalars().all()

    await SecondSendFails(system_engine, producer, service_name="component").relay_once()
    assert await left() == [rows[1]["event_id"]]
    await OutboxRelay(system_engine, producer, service_name="component").relay_once()
    assert await left() == []

async def inbox_transactions(engine, envelopes) -> int:
    """How many transactions wrote these events' inbox rows (xmin is the writing transaction)."""
    async with engine.connect() as conn:
        return (await conn.execute(sa.text(
            "SELECT count(DISTINCT xmin::text) FROM inbox WHERE consumer_group = :group AND event_id = ANY(:ids)"),
            {"group": GROUP, "ids": [e.id for e in envelopes]})).scalar_one()


async def test_consecutive_events_are_applied_in_one_transaction(infra, engine, producer, topic, tenant, app_engine):
    envelopes = [await publish(producer, topic, payment_posted(tenant, f"PAT-G{n}", "1.00")) for n in range(3)]
    consumer = await consume_until_committed(infra, app_engine, producer, topic, 3)
    assert consumer.outcomes == ["processed"] * 3
    entries, _ = await ledger(engine, tenant)  # one account per patient
    assert entries == [Decimal("1.00")] * 3
    assert await inbox_transactions(engine, envelopes) == 1


async def test_a_failure_inside_a_shared_transaction_costs_no_other_event_its_effects(
        infra, engine, producer, topic, tenant, app_engine):
    async def handler(ctx, event):
        if event.patient_id == "PAT-BROKEN":
            raise PermanentEventError("fee schedule missing for payer")
        await on_claim_payment_posted(ctx, event)

    before = await publish(producer, topic, payment_posted(tenant, "PAT-BEFORE", "2.00"))
    broken = await publish(producer, topic, payment_posted(tenant, "PAT-BROKEN", "4.00"))
    after = await publish(producer, topic, payment_posted(tenant, "PAT-AFTER", "8.00"))
    consumer = await consume_until_committed(infra, app_engine, producer, topic, 3, handler=handler)
    # The run was rolled back and applied again one event per transaction: each effect once.
    entries, _ = await ledger(engine, tenant)  # one account per patient
    assert sorted(entries) == [Decimal("2.00"), Decimal("8.00")]
    assert consumer.outcomes[-3:] == ["processed", "dead_lettered", "processed"]
    assert await inbox_transactions(engine, [before, after]) == 2
    dead = await ops_events.read_dlq(infra.kafka.bootstrap_servers, [dlq_topic(topic, GROUP)])
    assert [header(d.headers, "ce_id") for d in dead] == [str(broken.id)]


async def test_one_fetchs_events_of_several_partitions_share_one_transaction(
        infra, engine, producer, tenant, app_engine):
    # Under load a fetch brings a few records of every partition: one transaction for them all,
    # not one per partition (a lone record of a partition used to be applied on its own).
    topic = await create_topic(infra, partitions=3)
    envelopes = [await publish(producer, topic, payment_posted(tenant, f"PAT-P{n}", "1.00"), partition=n)
                 for n in range(3)]
    consumer = await consume_until_committed(infra, app_engine, producer, topic, {0: 1, 1: 1, 2: 1})
    assert sorted(consumer.outcomes) == ["processed"] * 3
    assert await inbox_transactions(engine, envelopes) == 1


async def test_a_failure_in_a_run_across_partitions_costs_the_others_nothing_and_keeps_each_partitions_order(
        infra, engine, producer, tenant, app_engine):
    async def handler(ctx, event):
        if event.patient_id == "PAT-BROKEN":
            raise PermanentEventError("fee schedule missing for payer")
        await on_claim_payment_posted(ctx, event)

    topic = await create_topic(infra, partitions=3)
    broken = payment_posted(tenant, "PAT-BROKEN", "4.00")
    await publish(producer, topic, broken, partition=0)
    # the same claim's next payment: parked behind it
    await publish(producer, topic, payment_posted(tenant, "PAT-LATER", "32.00", claim_id=broken.claim_id), partition=0)
    await publish(producer, topic, payment_posted(tenant, "PAT-AFTER", "8.00"), partition=0)
    await publish(producer, topic, payment_posted(tenant, "PAT-ONE", "2.00"), partition=1)
    await publish(producer, topic, payment_posted(tenant, "PAT-TWO", "16.00"), partition=2)
    consumer = await consume_until_committed(infra, app_engine, producer, topic, {0: 3, 1: 1, 2: 1}, handler=handler)
    entries, _ = await ledger(engine, tenant)  # one account per patient
    assert sorted(entries) == [Decimal("2.00"), Decimal("8.00"), Decimal("16.00")]
    # (the run across partitions was rolled back, then each partition's records applied again)
    assert consumer.outcomes[-5:].count("processed") == 3 and "parked" in consumer.outcomes
    dead = await ops_events.read_dlq(infra.kafka.bootstrap_servers, [dlq_topic(topic, GROUP)])
    assert [header(d.headers, "dlq_reason") for d in dead] == ["failed", "parked"]


async def publish_again(producer: AIOKafkaProducer, topic: str, event, envelope) -> None:
    """The same event under the same ce_id: a redelivery, as a relay that crashed before marking sends it."""
    headers = [(k, v.encode() if isinstance(v, str) else v)
               for k, v in outbox_row(event, envelope, "test")["headers"].items()]
    await producer.send_and_wait(topic, value=event.model_dump_json().encode(), key=event.key().encode(),
                                 headers=headers)


async def test_duplicates_inside_a_shared_run_are_applied_once(infra, engine, producer, topic, tenant, app_engine):
    # The run's inbox rows are written by one statement: an event applied before, and one that
    # comes twice in the same run, must still be duplicates, in record order.
    seen = payment_posted(tenant, "PAT-SEEN", "1.00")
    seen_envelope = build_envelope(seen, source="/test")
    async with engine.begin() as conn:  # applied by an earlier run
        await conn.execute(sa.text("INSERT INTO inbox (consumer_group, event_id, event_type) "
                                   "VALUES (:group, :id, :type)"),
                           {"group": GROUP, "id": seen_envelope.id, "type": seen_envelope.type})
    await publish_again(producer, topic, seen, seen_envelope)
    twice = payment_posted(tenant, "PAT-TWICE", "3.00")
    twice_envelope = await publish(producer, topic, twice)
    await publish_again(producer, topic, twice, twice_envelope)
    last = await publish(producer, topic, payment_posted(tenant, "PAT-LAST", "5.00"))
    consumer = await consume_until_committed(infra, app_engine, producer, topic, 4)
    assert consumer.outcomes == ["duplicate", "processed", "duplicate", "processed"], consumer.outcomes
    entries, _ = await ledger(engine, tenant)
    assert sorted(entries) == [Decimal("3.00"), Decimal("5.00")]
    assert await inbox_transactions(engine, [twice_envelope, last]) == 1


async def noted_patients(engine, tenant: str) -> list[str]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(sa.select(idempotency_keys.c.idempotency_key)
                                           .where(idempotency_keys.c.tenant_id == tenant))).scalars())


def note_patient_at_commit(broken: str | None = None):
    """A handler writing one row per event with HandlerContext.write_at_commit (into a table every
    service has), failing for the patient named `broken` after its write was deferred."""
    async def handler(ctx, event):
        await ctx.write_at_commit(idempotency_keys.insert(), {
            "tenant_id": event.tenant_id, "idempotency_key": event.patient_id, "request_fingerprint": "-",
            "response_status": 200, "response_body": b"{}"})
        if event.patient_id == broken:
            raise PermanentEventError("refused after its write was deferred")
    return handler


async def test_writes_deferred_to_the_commit_land_with_their_run(infra, engine, producer, topic, tenant, app_engine):
    envelopes = [await publish(producer, topic, payment_posted(tenant, f"PAT-W{n}")) for n in range(3)]
    await consume_until_committed(infra, app_engine, producer, topic, 3, handler=note_patient_at_commit())
    assert await inbox_transactions(engine, envelopes) == 1  # one shared run
    assert await noted_patients(engine, tenant) == ["PAT-W0", "PAT-W1", "PAT-W2"]


def _noted_status_upsert(columns):
    inserted = pg_insert(idempotency_keys)
    return inserted.on_conflict_do_update(
        index_elements=["tenant_id", "idempotency_key"],
        set_={column: inserted.excluded[column] for column in columns if column not in ("tenant_id", "idempotency_key")})


NOTED_STATUS = MergedUpsert(_noted_status_upsert)


def note_status_merged():
    """A handler setting a row's columns with HandlerContext.merge_at_commit: a payment of 1.00
    coinsurance notes its patient (fingerprint and status 200), any other sets only the status
    (to the coinsurance in cents), as a later event updates part of what an earlier one wrote."""
    async def handler(ctx, event):
        key = {"tenant_id": event.tenant_id, "idempotency_key": event.patient_id}
        cents = int(event.patient_responsibility_amount * 100)
        values = ({"request_fingerprint": "first", "response_status": 200, "response_body": b"{}"} if cents == 100
                  else {"response_status": cents})
        await ctx.merge_at_commit(NOTED_STATUS, key, values)
    return handler


async def noted_statuses(engine, tenant: str) -> list[tuple]:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(idempotency_keys.c.idempotency_key, idempotency_keys.c.request_fingerprint,
                                             idempotency_keys.c.response_status)
                                   .where(idempotency_keys.c.tenant_id == tenant)
                                   .order_by(idempotency_keys.c.idempotency_key))).all()


async def test_upserts_merged_at_the_commit_leave_each_row_as_the_events_in_turn_would(
        infra, engine, producer, topic, tenant, app_engine):
    for patient, coinsurance in (("PAT-M1", "1.00"), ("PAT-M2", "1.00"), ("PAT-M1", "3.00"), ("PAT-M1", "4.00")):
        await publish(producer, topic, payment_posted(tenant, patient, coinsurance))
    await consume_until_committed(infra, app_engine, producer, topic, 4, handler=note_status_merged())
    assert await noted_statuses(engine, tenant) == [("PAT-M1", "first", 400), ("PAT-M2", "first", 200)]
    # applied one at a time (a run of one), the same upsert is made at once
    await publish(producer, topic, payment_posted(tenant, "PAT-M3", "1.00"))
    await consume_until_committed(infra, app_engine, producer, topic, 5, handler=note_status_merged())
    assert await noted_statuses(engine, tenant) == [
        ("PAT-M1", "first", 400), ("PAT-M2", "first", 200), ("PAT-M3", "first", 200)]


async def test_deferred_writes_of_a_run_rolled_back_are_made_once_when_applied_one_by_one(
        infra, engine, producer, topic, tenant, app_engine):
    for patient in ("PAT-D0", "PAT-BROKEN", "PAT-D2"):
        await publish(producer, topic, payment_posted(tenant, patient))
    consumer = await consume_until_committed(infra, app_engine, producer, topic, 3,
                                             handler=note_patient_at_commit(broken="PAT-BROKEN"))
    assert consumer.outcomes[-3:] == ["processed", "dead_lettered", "processed"]
    assert await noted_patients(engine, tenant) == ["PAT-D0", "PAT-D2"]  # the broken one's write went with it


async def test_each_record_is_read_once_however_often_runs_are_looked_for(
        infra, engine, producer, topic, tenant, monkeypatch, app_engine):
    # Other consumers' records first, then one of ours: no run of two handled records forms, so
    # a run is looked for again from each next record. Each record's envelope is still read once.
    for n in range(4):
        await publish(producer, topic, payment_posted(tenant, f"PAT-OTHER{n}"), event_type="org.openrcm.test.other.v1")
    ours = await publish(producer, topic, payment_posted(tenant, "PAT-OURS", "7.00"))
    reads = []
    parse = Envelope.from_headers
    monkeypatch.setattr(Envelope, "from_headers", lambda headers: reads.append(header(headers, "ce_id")) or parse(headers))
    consumer = await consume_until_committed(infra, app_engine, producer, topic, 5)
    assert consumer.outcomes == ["skipped"] * 4 + ["processed"]
    assert reads == [str(ours.id)]
    entries, _ = await ledger(engine, tenant)
    assert entries == [Decimal("7.00")]


# -- practices (row-level security): the consumer acts for each event's ce_tenantid ------------------


def another_practice() -> str:
    return f"practice-{uuid.uuid4().hex[:12]}"


async def test_a_run_mixing_practices_applies_each_event_as_its_own_practice(
        infra, engine, producer, topic, tenant, app_engine):
    other = another_practice()
    envelopes = [await publish(producer, topic, payment_posted(practice, f"PAT-M{n}", amount))
                 for n, (practice, amount) in enumerate([(tenant, "1.00"), (other, "2.00"), (tenant, "4.00"),
                                                         (other, "8.00")])]
    consumer = await consume_until_committed(infra, app_engine, producer, topic, 4)
    assert consumer.outcomes == ["processed"] * 4
    assert await inbox_transactions(engine, envelopes) == 1  # one shared transaction, two practices
    assert sorted((await ledger(engine, tenant))[0]) == [Decimal("1.00"), Decimal("4.00")]
    assert sorted((await ledger(engine, other))[0]) == [Decimal("2.00"), Decimal("8.00")]
    async with engine.connect() as conn:  # the events each handler staged are its own practice's
        staged = (await conn.execute(sa.select(outbox.c.tenant_id, sa.func.count()).where(
            outbox.c.tenant_id.in_([tenant, other])).group_by(outbox.c.tenant_id))).all()
    assert sorted(staged) == sorted([(tenant, 2), (other, 2)])


async def test_deferred_writes_of_a_run_mixing_practices_land_each_under_its_own(
        infra, engine, producer, topic, tenant, app_engine):
    other = another_practice()
    envelopes = [await publish(producer, topic, payment_posted(practice, patient)) for practice, patient in (
        (tenant, "PAT-X0"), (other, "PAT-Y0"), (tenant, "PAT-X1"), (other, "PAT-Y1"))]
    consumer = await consume_until_committed(infra, app_engine, producer, topic, 4, handler=note_patient_at_commit())
    assert consumer.outcomes == ["processed"] * 4
    assert await inbox_transactions(engine, envelopes) == 1  # not rolled back and applied one by one
    assert await noted_patients(engine, tenant) == ["PAT-X0", "PAT-X1"]
    assert await noted_patients(engine, other) == ["PAT-Y0", "PAT-Y1"]


async def test_an_event_whose_data_is_another_practices_than_its_header_writes_nothing(
        infra, engine, producer, topic, tenant, app_engine):
    # ce_tenantid says one practice, the data another: the handler writes the data's practice's
    # rows while acting for the header's, which the policies refuse. Dead-lettered, not applied.
    other = another_practice()
    event = payment_posted(other, "PAT-FORGED")
    envelope = build_envelope(event, source="/test")
    headers = [(k, (tenant if k == "ce_tenantid" else v).encode())
               for k, v in outbox_row(event, envelope, "test")["headers"].items()]
    await producer.send_and_wait(topic, value=event.model_dump_json().encode(), key=event.key().encode(),
                                 headers=headers)
    await publish(producer, topic, payment_posted(tenant, "PAT-HONEST", "3.00"))
    consumer = await consume_until_committed(infra, app_engine, producer, topic, 2)
    assert consumer.outcomes[-2:] == ["dead_lettered", "processed"]
    assert await ledger(engine, other) == ([], None)
    assert (await ledger(engine, tenant))[0] == [Decimal("3.00")]
    [dead] = await ops_events.read_dlq(infra.kafka.bootstrap_servers, [dlq_topic(topic, GROUP)])
    assert header(dead.headers, "ce_id") == str(envelope.id)


async def parked_event_ids(engine, topic: str) -> list[uuid.UUID]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(parked_events.c.event_id).where(
            parked_events.c.consumer_group == GROUP, parked_events.c.topic == topic)
            .order_by(parked_events.c.position))).scalars())


async def readyz_consumer_detail(app_engine, system_engine, consumer) -> dict:
    """What /readyz says about the consumer, from the health router on a runtime holding it."""
    app = FastAPI()
    app.include_router(health_router)
    from openrcm_shared.supervisor import TaskSupervisor
    from types import SimpleNamespace
    settings = SimpleNamespace(runs_background=False, publishes=False)
    app.state.runtime = SimpleNamespace(settings=settings, engine=app_engine, system_engine=system_engine, tasks={},
                                        supervisor=TaskSupervisor(), consumer=consumer)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return (await client.get("/readyz")).json()["consumer"]


async def test_transient_failures_never_dead_letter_the_partition_waits_and_the_others_flow(
        infra, engine, producer, tenant, app_engine, system_engine):
    """Issue 14.3: a database failover outlasting every retry in place. The claim's payment is not
    dead-lettered, so its reversal cannot overtake it; the other partition flows meanwhile."""
    topic = await create_topic(infra, partitions=2)
    outage = {"on": True}

    async def failing_over(ctx, event):
        if event.patient_id == "PAT-OUTAGE" and outage["on"]:
            raise TransientEventError("the database is failing over")
        await on_claim_payment_posted(ctx, event)

    payment = payment_posted(tenant, "PAT-OUTAGE")
    envelopes = [await publish(producer, topic, payment, partition=0),
                 await publish(producer, topic, claim_reversed(payment), partition=0),
                 await publish(producer, topic, payment_posted(tenant, "PAT-ELSEWHERE", "7.00"), partition=1)]
    consumer, task = await start_consumer(infra, app_engine, producer, topic,
                                          subscriptions=payments_and_reversals(failing_over))
    try:
        async def other_partition_applied():
            assert await account_ledger(engine, tenant, "PAT-ELSEWHERE") == [(Decimal("7.00"), Decimal("7.00"))]
            return True
        await eventually(other_partition_applied)
        await asyncio.sleep(3)  # some sixty times the old budget (4 attempts of at most 0.05 s)
        assert await ops_events.read_dlq(infra.kafka.bootstrap_servers, [dlq_topic(topic, GROUP)]) == []
        assert await account_ledger(engine, tenant, "PAT-OUTAGE") == []  # nothing overtook the payment
        [waiting] = consumer.waiting_partitions()
        assert (waiting["topic"], waiting["partition"], waiting["offset"]) == (topic, 0, 0)
        assert waiting["attempts"] > 3 and waiting["error_class"] == "TransientEventError"
        assert waiting["waiting_seconds"] >= 2
        assert REGISTRY.get_sample_value("openrcm_consumer_waiting_partitions", {"group": GROUP}) == 1
        assert REGISTRY.get_sample_value("openrcm_consumer_longest_wait_seconds", {"group": GROUP}) >= 2
        assert (await readyz_consumer_detail(app_engine, system_engine, consumer))["waiting_partitions"][0]["offset"] == 0

        outage["on"] = False

        async def recovered_in_order():
            assert await account_ledger(engine, tenant, "PAT-OUTAGE") == [
                (Decimal("20.00"), Decimal("20.00")), (Decimal("-20.00"), Decimal("0.00"))]
            assert consumer.waiting_partitions() == []
            return True
        await eventually(recovered_in_order)
        # each of the three applied once (outcomes would also list a run across partitions that
        # was rolled back and applied again partition by partition)
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text(
                "SELECT count(*) FROM inbox WHERE consumer_group = :group AND event_id = ANY(:ids)"),
                {"group": GROUP, "ids": [e.id for e in envelopes]})).scalar_one() == 3
    finally:
        await stop_consumer(consumer, task)
    assert REGISTRY.get_sample_value("openrcm_consumer_waiting_partitions", {"group": GROUP}) == 0


async def test_a_failed_event_parks_its_key_and_a_replay_applies_the_keys_events_in_order(
        infra, engine, producer, topic, tenant, app_engine):
    """Issue 14.3: the payment fails for good and goes to the DLQ; the reversal after it is parked
    behind it (never applied first), other claims flow, and the replay after the fix applies the
    two in their original order, however the DLQ is replayed."""
    broken = {"fee_schedule": True}

    async def needs_fee_schedule(ctx, event):
        if event.patient_id == "PAT-PARKED" and broken["fee_schedule"]:
            raise PermanentEventError("fee schedule missing for payer")
        await on_claim_payment_posted(ctx, event)

    subscriptions = payments_and_reversals(needs_fee_schedule)
    payment = payment_posted(tenant, "PAT-PARKED")
    paid = await publish(producer, topic, payment)
    reversed_ = await publish(producer, topic, claim_reversed(payment))
    await publish(producer, topic, payment_posted(tenant, "PAT-FREE", "7.00"))
    first = await consume_until_committed(infra, app_engine, producer, topic, 3, subscriptions=subscriptions)
    assert first.outcomes == ["dead_lettered", "parked", "processed"]
    assert await account_ledger(engine, tenant, "PAT-PARKED") == []  # the reversal did not overtake the payment
    assert await account_ledger(engine, tenant, "PAT-FREE") == [(Decimal("7.00"), Decimal("7.00"))]
    assert await parked_event_ids(engine, topic) == [paid.id, reversed_.id]
    dlq = dlq_topic(topic, GROUP)
    failed, parked = await ops_events.read_dlq(infra.kafka.bootstrap_servers, [dlq])
    assert (header(failed.headers, "ce_id"), header(failed.headers, "dlq_reason")) == (str(paid.id), "failed")
    assert (header(parked.headers, "ce_id"), header(parked.headers, "dlq_reason")) == (str(reversed_.id), "parked")
    assert header(parked.headers, "dlq_error_class") == "ParkedBehindFailure"
    assert str(paid.id) in header(parked.headers, "dlq_error_message")

    consumer, task = await start_consumer(infra, app_engine, producer, topic, subscriptions=subscriptions)
    try:
        assert await ops_events.replay(infra.kafka.bootstrap_servers, dlq, [1]) == 1  # the reversal alone: not its turn

        async def parked_again():
            assert consumer.outcomes == ["parked"], consumer.outcomes
            return True
        await eventually(parked_again)
        assert await account_ledger(engine, tenant, "PAT-PARKED") == []

        broken["fee_schedule"] = False  # the fix; then the whole DLQ, in its order
        assert await ops_events.replay(infra.kafka.bootstrap_servers, dlq) == 3

        async def applied_in_order():
            assert consumer.outcomes == ["parked", "processed", "processed", "duplicate"], consumer.outcomes
            return True
        await eventually(applied_in_order)
    finally:
        await stop_consumer(consumer, task)
    assert await account_ledger(engine, tenant, "PAT-PARKED") == [
        (Decimal("20.00"), Decimal("20.00")), (Decimal("-20.00"), Decimal("0.00"))]
    assert await parked_event_ids(engine, topic) == []


async def test_an_operator_skips_a_failed_event_and_its_keys_later_events_are_then_applied(
        infra, engine, producer, topic, tenant, app_engine):
    async def refuses_three_dollars(ctx, event):
        if event.patient_responsibility_amount == Decimal("3.00"):
            raise PermanentEventError("amount refused for good")
        await on_claim_payment_posted(ctx, event)

    never = payment_posted(tenant, "PAT-SKIP", "3.00")
    skipped = await publish(producer, topic, never)
    later = await publish(producer, topic, payment_posted(tenant, "PAT-SKIP", "5.00", claim_id=never.claim_id))
    first = await consume_until_committed(infra, app_engine, producer, topic, 2, handler=refuses_three_dollars)
    assert first.outcomes == ["dead_lettered", "parked"]
    assert await parked_event_ids(engine, topic) == [skipped.id, later.id]

    dlq = dlq_topic(topic, GROUP)
    consumer, task = await start_consumer(infra, app_engine, producer, topic, handler=refuses_three_dollars)
    try:
        assert await ops_events.skip(infra.kafka.bootstrap_servers, dlq, [0]) == 1

        async def skip_applied():
            assert consumer.outcomes == ["skipped_by_operator"], consumer.outcomes
            assert await parked_event_ids(engine, topic) == [later.id]
            return True
        await eventually(skip_applied)
        # Everything replayed: the skipped event is a no-op, the later one is applied.
        assert await ops_events.replay(infra.kafka.bootstrap_servers, dlq) == 2

        async def later_applied():
            assert consumer.outcomes == ["skipped_by_operator", "duplicate", "processed"], consumer.outcomes
            return True
        await eventually(later_applied)
    finally:
        await stop_consumer(consumer, task)
    assert await account_ledger(engine, tenant, "PAT-SKIP") == [(Decimal("5.00"), Decimal("5.00"))]
    assert await parked_event_ids(engine, topic) == []


async def test_a_partition_revoked_mid_batch_leaves_the_consumer_running(infra, engine, producer, tenant, app_engine):
    """Issue 14.5: a second member joins while the first is applying partition 1's batch, and the
    record it is on cannot be settled (its DLQ topic does not exist yet, so the broker cannot take
    it): the first member lets the revoked partition go instead of dying on it, keeps partition 0,
    and settles a record there once the DLQ can be written.

    Which partition moves is fixed: the round-robin assignor (aiokafka's default) deals the
    partitions to the members sorted by member id, which starts with the client id."""
    topic = await create_topic(infra, partitions=2, with_dlq=False)
    for n in range(3):
        await publish(producer, topic, payment_posted(tenant, f"PAT-P1-{n}", "1.00"), partition=1)
    impatient_dlq = AIOKafkaProducer(bootstrap_servers=infra.kafka.bootstrap_servers, request_timeout_ms=1000)
    await impatient_dlq.start()
    members, refusals = {}, []

    async def refused_once_rebalanced(ctx, event):
        async def lost_a_partition():
            assert len(members["first"].consumer.assignment()) < 2
            return True
        await eventually(lost_a_partition, timeout=60)
        refusals.append(event.patient_id)
        raise PermanentEventError("refused")

    async def after_the_first_member_gave_up(ctx, event):
        # Lets the first member try to settle the record it was on (the DLQ times out in 1 s)
        # before this one applies it: otherwise the first would find it applied, a duplicate.
        async def refused():
            assert refusals
            return True
        await eventually(refused, timeout=60)
        await asyncio.sleep(3)
        await on_claim_payment_posted(ctx, event)

    members["first"], first_task = await start_consumer(
        infra, app_engine, producer, topic, handler=refused_once_rebalanced, dlq_producer=impatient_dlq,
        client_id="component-a")
    second = second_task = None
    try:
        async def holds_both():
            assert len(members["first"].consumer.assignment()) == 2
            return True
        await eventually(holds_both)
        second, second_task = await start_consumer(infra, app_engine, producer, topic, handler=after_the_first_member_gave_up,
                                                   client_id="component-b")

        async def second_applied_partition_1():
            assert second.consumer.assignment() == {TopicPartition(topic, 1)}
            assert second.outcomes == ["processed"] * 3, second.outcomes
            return True
        await eventually(second_applied_partition_1, timeout=60)
        await asyncio.sleep(2)  # the first member has tried to dead-letter partition 1's record meanwhile
        assert not first_task.done(), first_task
        assert members["first"].outcomes == []

        await publish(producer, topic, payment_posted(tenant, "PAT-P0", "2.00"), partition=0)

        async def partition_0_waits_for_the_dlq():
            assert [(waiting["partition"], waiting["offset"])
                    for waiting in members["first"].waiting_partitions()] == [(0, 0)]
            return True
        await eventually(partition_0_waits_for_the_dlq)
        await create_topics(infra, NewTopic(dlq_topic(topic, GROUP), 1, 1))

        async def first_settled_partition_0():
            assert members["first"].outcomes == ["dead_lettered"], members["first"].outcomes
            return True
        await eventually(first_settled_partition_0)
    finally:
        await stop_consumer(members["first"], first_task)
        if second is not None:
            await stop_consumer(second, second_task)
        await impatient_dlq.stop()
    entries, _ = await ledger(engine, tenant)
    assert entries == [Decimal("1.00")] * 3


async def lock_holders(engine, lock_id: int) -> list[int]:
    """The backends holding an advisory lock taken with a bigint key (pg_locks splits it in two)."""
    async with engine.connect() as conn:
        return list((await conn.execute(sa.text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
            "AND ((classid::bigint << 32) | objid::bigint) = :lock_id"), {"lock_id": lock_id})).scalars())


async def stop_tasks(tasks: list[asyncio.Task], timeout: float = 15.0) -> None:
    """Cancel the tasks and wait for them, for a bounded time: a task stuck on the way out fails
    the test with its stack instead of hanging the session."""
    for task in tasks:
        task.cancel()
    done, stuck = await asyncio.wait(tasks, timeout=timeout)
    for task in stuck:
        task.print_stack()
    assert not stuck, f"{len(stuck)} task(s) did not stop within {timeout} s"


class CountingRelay(OutboxRelay):
    """Remembers the ids it deleted as published."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.deleted: list[int] = []

    async def delete_published(self, ids):
        await super().delete_published(ids)
        self.deleted.extend(ids)


async def stage_rows(engine, topic: str, events, **overrides) -> list[int]:
    async with engine.begin() as conn:
        return list((await conn.execute(outbox.insert().returning(outbox.c.id), [
            {**outbox_row(e, build_envelope(e, source="/test"), "test"), "topic": topic, **overrides}
            for e in events])).scalars())


async def test_a_relay_whose_lock_connection_dies_stops_publishing_and_only_the_lock_holder_publishes(
        engine, producer, topic, system_engine):
    """Issue 14.7: the advisory lock lives with the connection that took it. That connection dies
    (terminated here, as a failover or a cut network would): PostgreSQL frees the lock, another
    replica may take it, and the relay that lost it must notice and stop publishing."""
    tenant = f"fenced-{uuid.uuid4().hex[:8]}"
    relays = [CountingRelay(system_engine, producer, service_name="component-fenced", idle_poll_seconds=0.1)
              for _ in range(2)]
    tasks = [asyncio.create_task(relays[0].run())]
    try:
        async def leading():
            assert relays[0].holds_lock and len(await lock_holders(engine, relays[0].lock_id)) == 1
            return True
        await eventually(leading, timeout=15)
        async with engine.connect() as conn:
            [terminated] = (await conn.execute(sa.select(sa.func.pg_terminate_backend(
                sa.bindparam("pid"))), {"pid": (await lock_holders(engine, relays[0].lock_id))[0]})).scalars()
        assert terminated
        tasks.append(asyncio.create_task(relays[1].run()))

        async def one_leader_holding_the_lock():
            leaders = [relay for relay in relays if relay.holds_lock]
            assert len(leaders) == 1, [relay.holds_lock for relay in relays]
            assert len(await lock_holders(engine, relays[0].lock_id)) == 1
            return leaders[0]
        await eventually(one_leader_holding_the_lock, timeout=15)
        await asyncio.sleep(1.0)  # a relay still believing it leads would show itself by now
        leader = await one_leader_holding_the_lock()
        for relay in relays:
            relay.deleted.clear()
        staged = await stage_rows(engine, topic, [payment_posted(tenant, f"PAT-L{n}") for n in range(3)])

        async def published():
            async with engine.connect() as conn:
                assert (await conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                           .where(outbox.c.tenant_id == tenant))).scalar_one() == 0
            return True
        await eventually(published, timeout=15)
        assert sorted(leader.deleted) == staged
        assert [relay.deleted for relay in relays if relay is not leader] == [[]]
    finally:
        await stop_tasks(tasks)


async def test_a_relay_stopped_just_after_its_lock_connection_died_stops(engine, producer, system_engine):
    """Shutting down during a database failover: the relay is cancelled before it has noticed that
    its lock's connection is gone. Releasing the lock on that connection fails, and that error
    replaced the cancellation, which the relay's retry loop then swallowed: it never stopped (and
    the service's shutdown waited for it)."""
    relay = OutboxRelay(system_engine, producer, service_name="component-stopping", idle_poll_seconds=5)
    task = asyncio.create_task(relay.run())
    async def leading():
        assert relay.holds_lock and await lock_holders(engine, relay.lock_id)
        return True
    await eventually(leading, timeout=15)
    await asyncio.sleep(0.2)  # in its idle wait
    async with engine.connect() as conn:
        await conn.execute(sa.select(sa.func.pg_terminate_backend(sa.bindparam("pid"))),
                           {"pid": (await lock_holders(engine, relay.lock_id))[0]})
    await stop_tasks([task])


async def test_an_outbox_row_too_large_for_the_broker_is_set_aside_and_the_rows_after_it_are_published(
        infra, engine, producer, system_engine):
    """Issue 14.7: a row larger than the broker takes used to fail every round, holding back every
    row after it. Rows over the relay's limit (here the topic's max.message.bytes, 64 KiB; by
    default 1 MB, under the producer's 1 MiB request size) are moved aside with an alert, never
    sent; the others are published, in order, and the producer keeps working."""
    topic = await create_topic(infra, **{"max.message.bytes": "65536"})
    tenant = f"oversize-{uuid.uuid4().hex[:8]}"
    before = await stage_rows(engine, topic, [payment_posted(tenant, "PAT-BEFORE")])
    huge = await stage_rows(engine, topic, [payment_posted(tenant, "PAT-HUGE")], payload=b"x" * (2 << 20))
    big = await stage_rows(engine, topic, [payment_posted(tenant, "PAT-BIG")], payload=b"x" * (200 << 10))
    after = await stage_rows(engine, topic, [payment_posted(tenant, "PAT-AFTER")])
    service = "component-oversize"
    set_aside_before = REGISTRY.get_sample_value("openrcm_outbox_set_aside_total", {"service": service}) or 0

    relay = OutboxRelay(system_engine, producer, service_name=service, max_event_bytes=65536)
    assert await relay.relay_once() == 4
    async with engine.connect() as conn:
        waiting = (await conn.execute(sa.select(outbox.c.id).where(outbox.c.tenant_id == tenant))).scalars().all()
        aside = (await conn.execute(sa.select(outbox_set_aside.c.id, outbox_set_aside.c.reason,
                                              sa.func.length(outbox_set_aside.c.payload))
                                    .where(outbox_set_aside.c.tenant_id == tenant)
                                    .order_by(outbox_set_aside.c.id))).all()
    assert waiting == []
    assert [tuple(row) for row in aside] == [(huge[0], "larger than 65536 bytes", 2 << 20),
                                             (big[0], "larger than 65536 bytes", 200 << 10)]
    assert REGISTRY.get_sample_value("openrcm_outbox_set_aside_total", {"service": service}) == set_aside_before + 2
    published = await ops_events.read_all(infra.kafka.bootstrap_servers, [topic])
    assert [json.loads(record.value)["patient_id"] for record in published] == ["PAT-BEFORE", "PAT-AFTER"]
    assert before[0] < huge[0] < big[0] < after[0]

    later = await stage_rows(engine, topic, [payment_posted(tenant, "PAT-LATER")])
    assert await relay.relay_once() == 1  # the producer still sends to the partition
    assert [json.loads(record.value)["patient_id"] for record in
            await ops_events.read_all(infra.kafka.bootstrap_servers, [topic])][-1] == "PAT-LATER" and later


async def test_a_row_the_broker_refuses_all_the_same_is_set_aside_and_the_relay_asks_for_a_new_producer(
        infra, engine, system_engine):
    """A topic configured below the relay's limit: the broker refuses the row, and the idempotent
    producer can then send nothing more to that partition (OutOfOrderSequenceNumber). The refused
    row is set aside first, then the relay stops with the error (its supervisor restarts it, and
    /livez brings a new process); a new producer publishes the rows after it."""
    topic = await create_topic(infra, **{"max.message.bytes": "65536"})
    tenant = f"refused-{uuid.uuid4().hex[:8]}"
    await stage_rows(engine, topic, [payment_posted(tenant, "PAT-FIRST")])
    refused = await stage_rows(engine, topic, [payment_posted(tenant, "PAT-BIG")], payload=b"x" * (200 << 10))
    after = await stage_rows(engine, topic, [payment_posted(tenant, "PAT-AFTER")])
    broken_producer = reliable_producer(infra.kafka.bootstrap_servers, client_id="component-refused")
    await broken_producer.start()
    try:
        with pytest.raises(OutOfOrderSequenceNumber):
            await OutboxRelay(system_engine, broken_producer, service_name="component-refused").relay_once()
    finally:
        await broken_producer.stop()
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(outbox_set_aside.c.id, outbox_set_aside.c.reason)
                                   .where(outbox_set_aside.c.tenant_id == tenant))).all() == [
            (refused[0], "MessageSizeTooLargeError")]
    fresh_producer = reliable_producer(infra.kafka.bootstrap_servers, client_id="component-refused")
    await fresh_producer.start()
    try:
        assert await OutboxRelay(system_engine, fresh_producer, service_name="component-refused").relay_once() == 1
    finally:
        await fresh_producer.stop()
    assert [json.loads(record.value)["patient_id"]
            for record in await ops_events.read_all(infra.kafka.bootstrap_servers, [topic])] == [
        "PAT-FIRST", "PAT-AFTER"] and after


def rows_read_from(plan: dict, table: str) -> float:
    """Rows a plan's scans of `table` read (returned or filtered out), over all loops."""
    read = 0.0
    if plan.get("Relation Name") == table:
        read += (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * plan.get("Actual Loops", 1)
    for child in plan.get("Plans", ()):
        read += rows_read_from(child, table)
    return read


async def test_the_backlog_gauges_read_a_bounded_part_of_a_large_outbox(engine, system_engine):
    """Issue 14.8: the relay refreshes its backlog gauges every 2 s; a count(*) of the whole outbox
    read every row of it, the more the longer the backlog. 30 000 rows waiting: the gauges are
    right and the statements read a bounded part of the table."""
    from sqlalchemy import event

    async with engine.begin() as conn:
        await conn.execute(outbox.delete())
        await conn.execute(sa.text(
            "INSERT INTO outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type, topic, payload, "
            "headers, created_at) SELECT gen_random_uuid(), 'backlog', 'test', n::text, 'test', 'test.backlog', "
            "'{}'::bytea, '{}'::jsonb, now() - interval '1 minute' FROM generate_series(1, 30000) AS n"))
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    event.listen(system_engine.sync_engine, "before_cursor_execute", capture)
    try:
        await OutboxRelay(system_engine, None, service_name="component-backlog").record_backlog()
    finally:
        event.remove(system_engine.sync_engine, "before_cursor_execute", capture)
    try:
        assert REGISTRY.get_sample_value("openrcm_outbox_backlog_events", {"service": "component-backlog"}) == 30000
        assert REGISTRY.get_sample_value("openrcm_outbox_oldest_unpublished_age_seconds",
                                         {"service": "component-backlog"}) >= 60
        assert statements
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            for statement, parameters in statements:
                plan = await driver.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, *(parameters or ()))
                [explained] = json.loads(plan) if isinstance(plan, str) else plan
                assert rows_read_from(explained["Plan"], "outbox") <= 10_100, statement
    finally:
        async with engine.begin() as conn:
            await conn.execute(outbox.delete().where(outbox.c.tenant_id == "backlog"))
