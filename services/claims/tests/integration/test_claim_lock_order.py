"""Claims locked in one order, by id, by every writer, on a real PostgreSQL (issue 14, item 1).

A 999 locks the claims of the transaction sets it answers in id order. Writers that lock the same
claims in another order can deadlock with it, and did in CI:
- the eligibility handler updated a patient's open claims in the order the table scan met them;
- the consumer applies a run of records in one transaction, each handler locking its claim, so
  the run takes claims in the order of its events.
Each test pins the interleaving that deadlocks with row locks and events (nothing timed), so it
fails the same way every time when a writer locks out of order: both sides must complete, and
PostgreSQL must not have had to break a deadlock between them.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition

from openrcm_claims.adapters.tables import claim_history, claim_submissions, claims, clearinghouse_deliveries
from openrcm_claims.domain.lifecycle import OPEN_STATUSES, ClaimStatus
from openrcm_claims.entrypoints.schemas import EncounterIn
from openrcm_claims.service_layer.acknowledgements import apply_delivery
from openrcm_claims.service_layer.batches import build_batches
from openrcm_claims.service_layer.remittance_outcomes import on_claim_denied, on_eligibility_checked
from openrcm_claims.service_layer.submission import submit_encounter
from openrcm_claims.settings import SubmissionSettings
from openrcm_shared.contracts.eligibility import EligibilityChecked
from openrcm_shared.contracts.remittance import ClaimDenied, DeniedItem
from openrcm_shared.db import create_engine
from openrcm_shared.messaging.consumer import HandlerContext, InboxConsumer, Subscription
from openrcm_shared.messaging.envelope import Envelope
from openrcm_shared.security.context import acting_for
from openrcm_shared.x12.ack_999 import (
    AcknowledgmentCode, FunctionalGroupAcknowledgment, TransactionSetAcknowledgment, build_999,
)
from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope
from services.claims.tests.integration.practice import register_payer
from tests.support import encounter, scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_claims_lock_order", migrations_of="claims", pool_size=4)

PAYER = "60054"
BOTH_DONE_SECONDS = 30


@pytest.fixture(scope="module", autouse=True)
async def bounded_lock_waits(database_url):
    """A lock wait the test did not plan fails in seconds (lock_timeout) instead of hanging the run."""
    admin = create_engine(database_url, pool_size=1)
    async with admin.begin() as conn:
        await conn.execute(sa.text("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET lock_timeout = %L', "
                                   "current_database(), '15s'); END $$"))
    await admin.dispose()


async def two_claims_in_one_transaction_set(engine) -> tuple[str, str, uuid.UUID, uuid.UUID, int]:
    """(practice, patient, lower, higher, ST02): two claims of one patient with one payer, sent in
    one 837 transaction set, `lower` having the lower id."""
    tenant, patient = f"locks-{uuid.uuid4().hex[:8]}", f"PAT-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    for _ in range(2):
        async with engine.begin() as conn:
            await submit_encounter(conn, tenant, EncounterIn.model_validate(encounter(patient_id=patient)))
    await build_batches(engine, SubmissionSettings())
    async with engine.connect() as conn:
        sent = (await conn.execute(sa.select(claims.c.id, claim_submissions.c.transaction_set_control_number)
                                   .join(claim_submissions, claim_submissions.c.claim_id == claims.c.id)
                                   .where(*_patients_open_claims(tenant, patient),
                                          claims.c.status == ClaimStatus.SUBMITTED))).all()
    assert len(sent) == 2 and sent[0][1] == sent[1][1], sent
    lower, higher = sorted(claim_id for claim_id, _ in sent)
    return tenant, patient, lower, higher, sent[0][1]


async def scanned_against_id_order(engine, tenant: str, patient: str, lower: uuid.UUID, higher: uuid.UUID) -> None:
    """Rewrite the table so that it holds `higher` before `lower`: any scan of the patient's
    claims (sequential, or by an index on equal keys, which goes in table order) meets them
    against id order. `lower` is made the younger claim and the table is clustered by age."""
    async with engine.begin() as conn:
        await conn.execute(claims.update().where(claims.c.id == lower)
                           .values(created_at=sa.select(claims.c.created_at).where(claims.c.id == higher)
                                   .scalar_subquery() + timedelta(seconds=1)))
        await conn.execute(sa.text("CLUSTER claims USING ix_claims_tenant_status_created"))
        scan = (await conn.execute(sa.select(claims.c.id).where(*_patients_open_claims(tenant, patient)))).scalars()
        assert list(scan) == [higher, lower], "the scan must meet the claims against id order"


def _patients_open_claims(tenant: str, patient: str):
    return (claims.c.tenant_id == tenant, claims.c.patient_id == patient, claims.c.payer_id == PAYER,
            claims.c.status.in_([s.value for s in OPEN_STATUSES]))


async def stored_999(engine, control_number: int) -> str:
    """A 999 accepting the transaction set, stored as the webhook stores it; its webhook id."""
    envelope = InterchangeEnvelope(
        sender_qualifier="ZZ", sender_id="CLEARINGHOUSE", receiver_qualifier="ZZ", receiver_id="OPENRCM01",
        application_sender_code="CLEARINGHOUSE", application_receiver_code="OPENRCM01",
        interchange_control_number=control_number, group_control_number=control_number,
        created_at=datetime.now(timezone.utc))
    text = build_999(envelope, [FunctionalGroupAcknowledgment.summarize(
        functional_id="HC", group_control_number="1", version="005010X222A1",
        transaction_sets=[TransactionSetAcknowledgment("837", f"{control_number:04d}", AcknowledgmentCode.ACCEPTED,
                                                       "005010X222A1")])])
    webhook_id = f"msg_{uuid.uuid4().hex}"
    async with engine.begin() as conn:
        await conn.execute(clearinghouse_deliveries.insert().values(
            webhook_id=webhook_id, received_at=datetime.now(timezone.utc), content_type="application/edi-x12",
            body=text.encode("latin-1"), status="received"))
    return webhook_id


async def until_waiting_for_locks(engine, backends: int) -> None:
    """Until `backends` sessions of the database wait for a lock (row locks included). Each look
    is a transaction of its own: within one, pg_stat_activity keeps showing its first snapshot."""
    for _ in range(1000):
        async with engine.connect() as conn:
            waiting = (await conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))).scalar()
        if waiting >= backends:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{backends} sessions never waited for a lock")


def deadlocks(**outcomes) -> dict[str, str]:
    """Which side PostgreSQL aborted to break a deadlock (SQLSTATE 40P01, however wrapped), with
    its detail (who waited for whom)."""
    broken = {}
    for side, error in outcomes.items():
        while isinstance(error, BaseException):
            if getattr(error, "sqlstate", None) == "40P01" and getattr(error, "detail", None):
                broken[side] = f"{type(error).__name__}: {error}. {error.detail}"
                break
            error = getattr(error, "orig", None) or error.__cause__
    return broken


async def statuses(engine, *ids) -> list[tuple]:
    async with engine.connect() as conn:
        rows = {row.id: (row.status, row.coverage_status) for row in await conn.execute(
            sa.select(claims.c.id, claims.c.status, claims.c.coverage_status).where(claims.c.id.in_(ids)))}
    return [rows[i] for i in ids]


async def answer_eligibility(engine, tenant: str, patient: str) -> None:
    """The eligibility handler, as the consumer applies one record: coverage now inactive."""
    event = EligibilityChecked(tenant_id=tenant, check_id=uuid.uuid4(), patient_id=patient, payer_id=PAYER,
                               coverage_active=False, checked_at=datetime.now(timezone.utc))
    envelope = Envelope.new(type=event.event_type, source="/openrcm/eligibility", subject=patient, tenant_id=tenant)
    with acting_for(tenant):
        async with engine.begin() as conn:
            await on_eligibility_checked(HandlerContext(conn=conn, envelope=envelope, source="/openrcm/claims",
                                                        aggregate_type="claim"), event)


async def test_an_eligibility_answer_and_a_999_on_the_same_claims_both_complete(engine):
    """The 999 locks `lower`, then waits at `higher`, where a foreign-key check (a timeline entry
    being written for it) holds a KEY SHARE lock; an UPDATE passes such a lock, a FOR UPDATE does
    not. The eligibility answer for the patient comes meanwhile: locking the patient's claims in
    scan order it took `higher` and waited for `lower`, and once the key-share lock went the 999
    waited for it in turn: a deadlock. In id order it waits for `lower` holding nothing."""
    tenant, patient, lower, higher, control_number = await two_claims_in_one_transaction_set(engine)
    await scanned_against_id_order(engine, tenant, patient, lower, higher)
    webhook_id = await stored_999(engine, control_number)
    key_check = await engine.connect()
    await key_check.begin()
    await key_check.execute(sa.select(claims.c.id).where(claims.c.id == higher).with_for_update(key_share=True,
                                                                                                  read=True))
    acknowledgement = asyncio.create_task(apply_delivery(engine, webhook_id))
    await until_waiting_for_locks(engine, 1)
    answer = asyncio.create_task(answer_eligibility(engine, tenant, patient))
    await until_waiting_for_locks(engine, 2)
    await key_check.rollback()
    await key_check.close()

    outcomes = await asyncio.wait_for(asyncio.gather(acknowledgement, answer, return_exceptions=True),
                                      BOTH_DONE_SECONDS)

    assert deadlocks(acknowledgement=outcomes[0], eligibility_answer=outcomes[1]) == {}
    assert outcomes[0] == {"document": "999", "accepted": 2, "rejected": 0}
    assert outcomes[1] is None
    assert await statuses(engine, lower, higher) == [(ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, "inactive")] * 2


class _OneFetch:
    """aiokafka's consumer as `InboxConsumer.run` uses it, without a broker: one fetch, then the end."""

    def __init__(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        self._batch, self._assigned = batch, set(batch)

    def assignment(self):
        return self._assigned

    def paused(self):
        return set()

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict:
        if self._batch is None:
            raise _AllFetched()
        batch, self._batch = self._batch, None
        return batch

    async def commit(self, offsets) -> None:
        return None


class _AllFetched(Exception):
    pass


def denial_record(tenant: str, claim_id: uuid.UUID, offset: int) -> ConsumerRecord:
    event = ClaimDenied(tenant_id=tenant, claim_id=claim_id, remittance_id=uuid.uuid4(), patient_id="PAT",
                        payer_id=PAYER, patient_control_number="PCN", denied_amount=Decimal("15.50"),
                        denials=[DeniedItem(group_code="CO", carc="16", amount=Decimal("15.50"))])
    envelope = Envelope.new(type=event.event_type, source="/openrcm/remittance", subject=str(claim_id),
                            tenant_id=tenant)
    key, value = event.key().encode(), event.model_dump_json().encode()
    return ConsumerRecord(event.topic, 0, offset, 0, 0, key, value, None, len(key), len(value), envelope.to_headers())


async def test_a_consumer_run_and_a_999_on_the_same_claims_both_complete(engine):
    """One fetch brings the denials of `higher`, then of `lower` (an ERA's claims in its order),
    applied as one run in one transaction. The run has locked `higher` when the 999 comes, locks
    `lower` and waits at `higher`; the run's next record then wanted `lower`: a deadlock. A run
    must not wait for a claim another transaction holds once it holds claims of its own."""
    tenant, _, lower, higher, control_number = await two_claims_in_one_transaction_set(engine)
    webhook_id = await stored_999(engine, control_number)
    first_applied, go_on = asyncio.Event(), asyncio.Event()
    handler_errors: list[BaseException] = []

    async def denied_pausing_after_the_first(ctx, event: ClaimDenied) -> None:
        try:
            await on_claim_denied(ctx, event)
        except Exception as exc:
            handler_errors.append(exc)
            raise
        if event.claim_id == higher and not first_applied.is_set():
            first_applied.set()
            await go_on.wait()

    records = [denial_record(tenant, higher, 0), denial_record(tenant, lower, 1)]
    consumer = InboxConsumer(
        engine=engine, consumer=_OneFetch({TopicPartition(records[0].topic, 0): records}), dlq_producer=None,
        group_id="claims", subscriptions=[Subscription(ClaimDenied, denied_pausing_after_the_first)],
        source="/openrcm/claims", aggregate_type="claim")

    async def consume() -> None:
        with pytest.raises(_AllFetched):
            await consumer.run()

    run = asyncio.create_task(consume())
    await asyncio.wait_for(first_applied.wait(), BOTH_DONE_SECONDS)
    acknowledgement = asyncio.create_task(apply_delivery(engine, webhook_id))
    await until_waiting_for_locks(engine, 1)
    go_on.set()

    outcomes = await asyncio.wait_for(asyncio.gather(acknowledgement, run, return_exceptions=True),
                                      BOTH_DONE_SECONDS)

    assert deadlocks(acknowledgement=outcomes[0], consumer_run=outcomes[1],
                     **{f"handler_{n}": error for n, error in enumerate(handler_errors)}) == {}
    assert outcomes == [{"document": "999", "accepted": 2, "rejected": 0}, None]
    async with engine.connect() as conn:
        noted = (await conn.execute(sa.select(claim_history.c.claim_id).where(
            claim_history.c.claim_id.in_([lower, higher]), claim_history.c.kind == "denial_recorded"))).scalars()
        assert sorted(noted) == [lower, higher]
    assert [status for status, _ in await statuses(engine, lower, higher)] == [
        ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE] * 2
