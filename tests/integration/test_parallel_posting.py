"""Posting a large ERA with worker processes, on a real PostgreSQL (a scratch remittance database of
its own, so no running service touches it).

The workers parse and prepare batches; the posting's process only writes their COPY data. What lands
must be exactly what one process posts, all or nothing: the same payments, ledger and events, and a
problem in any batch holds the whole transaction set with nothing written. Batches are made small
here (100 claims) so a few hundred synthetic claims span several workers' batches.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import uuid
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import asyncpg
import pytest
import sqlalchemy as sa

from bench.x12_835 import SyntheticTotals, billed_lines, patient_control_number, synthetic_835
from openrcm_remittance.adapters.tables import expected_claims, journal_entries, remittances, unmatched_items
from openrcm_remittance.service_layer import era_intake, posting_workers
from openrcm_remittance.service_layer.files import store_file
from openrcm_shared import pg_copy
from openrcm_shared.contracts import remittance as contracts
from openrcm_shared.observability import reset_correlation_id, set_correlation_id
from openrcm_shared.x12.reader import X12Error
from openrcm_shared.x12.remittance_835 import parse_835
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

CLAIMS = 450  # every 25th denied (the generator's rule), a PLB, two lines a claim
BATCH = 100


database_url, engine = scratch_database_fixtures("openrcm_parallel", migrations_of="remittance", pool_size=3)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(era_intake, "CLAIM_BATCH", BATCH)
    monkeypatch.setattr(posting_workers, "MIN_CLAIMS_FOR_A_WORKER", 10)


@pytest.fixture
async def workers(engine):
    pool = await asyncio.to_thread(posting_workers.start, engine, 2)
    assert posting_workers.pool_for(engine) is pool
    yield pool
    await asyncio.to_thread(posting_workers.shutdown)


async def seed(engine, tenant: str, *, skip: int | None = None) -> None:
    rows = [dict(claim_id=uuid.uuid4(), tenant_id=tenant, patient_control_number=patient_control_number(number),
                 patient_id=f"P{number % 97}", payer_id="60054", lines=billed_lines(number, 2),
                 total_charge=sum(Decimal(line["charge_amount"]) for line in billed_lines(number, 2)),
                 submitted_at=datetime.now(timezone.utc))
            for number in range(CLAIMS) if number != skip]
    async with engine.begin() as conn:
        await conn.execute(expected_claims.insert(), rows)


def synthetic_era(**options) -> bytes:
    return b"".join(synthetic_835(CLAIMS, lines_per_claim=2, totals=SyntheticTotals(), **options))


async def process(engine, tenant: str, data: bytes):
    async def body():
        yield data

    stored = await store_file(engine, body(), scope=tenant, tenant_id=tenant, source="upload")
    return await era_intake.process_file(engine, stored.id)


async def post_era(engine, tenant: str):
    (transaction,) = (await process(engine, tenant, synthetic_era())).transactions
    return transaction


async def rows_written(engine, tenant: str) -> tuple[int, int, int]:
    """Claim payments, journal entries and events other than RemittanceHeld the tenant has."""
    async with engine.connect() as conn:
        return tuple((await conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM claim_payments WHERE tenant_id = :t), "
            "(SELECT count(*) FROM journal_entries WHERE tenant_id = :t), "
            "(SELECT count(*) FROM outbox WHERE tenant_id = :t AND event_type <> :held)"),
            {"t": tenant, "held": contracts.RemittanceHeld.event_type})).one())


async def posted(engine, tenant: str) -> dict:
    """What a tenant's posting wrote, without the ids each posting makes up."""
    async with engine.connect() as conn:
        payments = (await conn.execute(sa.text(
            "SELECT e.patient_control_number, p.outcome, p.charge_amount, p.allowed_amount, p.paid_amount, "
            "p.patient_responsibility_amount, p.denied_amount, p.claim_status_code, p.sequence "
            "FROM claim_payments p JOIN expected_claims e ON e.claim_id = p.claim_id WHERE p.tenant_id = :t "
            "ORDER BY p.sequence"), {"t": tenant})).all()
        journal = (await conn.execute(sa.text(
            "SELECT coalesce(e.patient_control_number, 'PLB'), j.line_number, j.account, j.group_code, "
            "j.reason_code, j.amount, (j.journal_id = p.id) AS of_its_payment "
            "FROM journal_entries j LEFT JOIN expected_claims e ON e.claim_id = j.claim_id "
            "LEFT JOIN claim_payments p ON p.id = j.journal_id WHERE j.tenant_id = :t"), {"t": tenant})).all()
        events = (await conn.execute(sa.text(
            "SELECT event_type, aggregate_id, payload, headers FROM outbox WHERE tenant_id = :t ORDER BY id"),
            {"t": tenant})).all()
    return {"payments": [tuple(row) for row in payments], "journal": Counter(tuple(row) for row in journal),
            "events": events}


def _comparable(events) -> list:
    """Event types in order and their payloads without the ids and times each posting makes up."""
    result = []
    for event_type, _aggregate, payload, _headers in events:
        data = json.loads(bytes(payload))
        for key in ("claim_id", "remittance_id", "tenant_id", "received_at"):
            data.pop(key, None)
        result.append((event_type, json.dumps(data, sort_keys=True)))
    return result


async def test_workers_post_exactly_what_one_process_posts(engine, small_batches, workers):
    in_workers, in_process = f"parallel-{uuid.uuid4().hex[:8]}", f"serial-{uuid.uuid4().hex[:8]}"
    await seed(engine, in_workers)
    await seed(engine, in_process)
    prepared_before = posting_workers.worker_cpu_seconds()

    token = set_correlation_id("upload-request-7")  # as the upload request's middleware does
    try:
        parallel = await post_era(engine, in_workers)
    finally:
        reset_correlation_id(token)
    assert posting_workers.worker_cpu_seconds() > prepared_before  # the batches really went to the workers
    await asyncio.to_thread(posting_workers.shutdown)
    serial = await post_era(engine, in_process)

    assert (parallel.status, parallel.claim_count) == (serial.status, serial.claim_count) == ("posted", CLAIMS)
    a, b = await posted(engine, in_workers), await posted(engine, in_process)
    assert a["payments"] == b["payments"]
    assert [row[-1] for row in a["payments"]] == list(range(CLAIMS))  # written in file order
    assert a["journal"] == b["journal"]
    assert all(row[-1] for row in a["journal"] if row[0] != "PLB")  # each claim's journal is its payment
    assert _comparable(a["events"]) == _comparable(b["events"])
    assert Counter(e.event_type for e in a["events"]) == {
        contracts.ClaimPaymentPosted.event_type: CLAIMS, contracts.ClaimDenied.event_type: CLAIMS // 25,
        contracts.RemittanceReceived.event_type: 1, contracts.ProviderAdjustmentsPosted.event_type: 1}
    # The ledger's payer payments add up to the check (BPR02), to the cent.
    async with engine.connect() as conn:
        paid, bpr02 = (await conn.execute(sa.text(
            "SELECT sum(j.amount), r.payment_amount FROM journal_entries j JOIN remittances r ON r.id = j.remittance_id "
            "WHERE r.id = :r AND j.account = 'payer_payment' GROUP BY r.payment_amount"),
            {"r": parallel.remittance_id})).one()
    assert paid == bpr02
    # Headers as the relay publishes them: the request's correlation id, carried into the workers.
    headers = [row.headers for row in a["events"]]
    assert len({h["ce_id"] for h in headers}) == len(headers)
    assert {h["ce_correlationid"] for h in headers} == {"upload-request-7"}


async def test_an_unmatched_claim_in_a_worker_batch_holds_the_whole_transaction(engine, small_batches, workers):
    tenant = f"held-{uuid.uuid4().hex[:8]}"
    await seed(engine, tenant, skip=333)  # a claim of the fourth batch was never billed here

    outcome = await post_era(engine, tenant)

    assert outcome.status == "held"
    assert [(p.kind, p.claim_sequence, p.patient_control_number) for p in outcome.problems] == [
        ("claim", 333, patient_control_number(333))]
    assert await rows_written(engine, tenant) == (0, 0, 0)
    async with engine.connect() as conn:
        status = (await conn.execute(sa.select(remittances.c.status).where(
            remittances.c.id == outcome.remittance_id))).scalar_one()
        items = (await conn.execute(sa.select(unmatched_items.c.claim_sequence).where(
            unmatched_items.c.remittance_id == outcome.remittance_id))).scalars().all()
    assert status == "held"
    assert items == [333]


async def test_a_malformed_claim_in_a_worker_batch_rejects_the_file_naming_its_segment(engine, small_batches,
                                                                                     workers):
    tenant = f"malformed-{uuid.uuid4().hex[:8]}"
    await seed(engine, tenant)
    data = synthetic_era()
    at_date = data.index(b"DTM*472*", data.index(f"CLP*{patient_control_number(377)}*".encode()))
    bad = data[:at_date] + b"DTM*472*20261399" + data[at_date + 16:]  # claim 377 (a worker's batch): month 13
    expected = None
    try:
        list(parse_835(io.BytesIO(bad)))
    except X12Error as error:
        expected = (type(error), error.segment_number, error.segment_id, error.element_position)
    assert expected is not None and expected[2] == "DTM"

    outcome = await process(engine, tenant, bad)

    assert outcome.status == "rejected"
    assert (outcome.error["segment_number"], outcome.error["segment_id"], outcome.error["element_position"]) == \
        expected[1:]
    assert await rows_written(engine, tenant) == (0, 0, 0)
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(remittances).where(
            remittances.c.tenant_id == tenant))).scalar_one() == 0


async def test_a_malformed_trailer_after_the_claims_posts_nothing(engine, small_batches, workers):
    tenant = f"trailer-{uuid.uuid4().hex[:8]}"
    await seed(engine, tenant)
    data = synthetic_era()
    iea = data.rindex(b"IEA*1*")
    bad = data[:iea] + b"IEA*2*" + data[iea + 6:]  # IEA01 counts two functional groups; there is one

    outcome = await process(engine, tenant, bad)

    assert outcome.status == "rejected"
    assert outcome.error["segment_id"] == "IEA"
    assert await rows_written(engine, tenant) == (0, 0, 0)


async def test_a_file_of_two_transaction_sets_posts_each(engine, small_batches, workers):
    tenant = f"two-sets-{uuid.uuid4().hex[:8]}"
    await seed(engine, tenant)
    data = synthetic_era(claims_per_transaction=CLAIMS // 2 + 25)
    assert not era_intake.holds_one_transaction_set(io.BytesIO(data))

    outcome = await process(engine, tenant, data)

    assert [t.status for t in outcome.transactions] == ["posted", "posted"]
    assert sum(t.claim_count for t in outcome.transactions) == CLAIMS
    assert (await rows_written(engine, tenant))[0] == CLAIMS


async def test_a_worker_that_dies_costs_the_posting_nothing(engine, small_batches, workers):
    tenant = f"died-{uuid.uuid4().hex[:8]}"
    await seed(engine, tenant)
    victim = next(iter(workers._processes.values()))  # the pool's own bookkeeping: test only
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(10)

    outcome = await post_era(engine, tenant)

    assert (outcome.status, outcome.claim_count) == ("posted", CLAIMS)  # posted again in this process
    assert (await rows_written(engine, tenant))[0] == CLAIMS
    assert posting_workers.pool_for(engine) is None  # the broken pool is gone; the service starts a new one


def test_the_quick_count_of_transaction_sets():
    one = synthetic_era()
    assert era_intake.holds_one_transaction_set(io.BytesIO(one))
    spaced = one.replace(b"~", b"~\r\n")
    assert era_intake.holds_one_transaction_set(io.BytesIO(spaced))
    assert not era_intake.holds_one_transaction_set(io.BytesIO(one + one))  # two interchanges
    assert not era_intake.holds_one_transaction_set(io.BytesIO(synthetic_era(claims_per_transaction=100)))
    assert not era_intake.holds_one_transaction_set(io.BytesIO(b"not x12 at all"))


async def test_copy_text_round_trips_through_postgresql(engine):
    values = ["plain", "tab\there", "line\nbreak", "back\\slash", "cr\rhere", "", None, "ÉCLAIR ✓"]
    document = {"note": 'say "hi"\\n', "list": [1, None, "x"], "text": "ÉCLAIR"}
    async with engine.connect() as conn:
        await conn.execute(sa.text("CREATE TEMP TABLE copy_probe (txt text, doc jsonb, bin bytea, num numeric(12,2))"))
        lines = [pg_copy.row([value, document, value.encode() if value is not None else None, Decimal("-1.25")])
                 for value in values]
        await pg_copy.copy_data(conn, pg_copy.CopyData("copy_probe", ("txt", "doc", "bin", "num"), lines))
        rows = (await conn.execute(sa.text("SELECT txt, doc, bin, num FROM copy_probe"))).all()
    assert [row.txt for row in rows] == values
    assert all(row.doc == document for row in rows)
    assert [bytes(row.bin) if row.bin is not None else None for row in rows] == [
        value.encode() if value is not None else None for value in values]
    assert {row.num for row in rows} == {Decimal("-1.25")}


async def test_the_ledger_refuses_entries_of_a_remittance_that_does_not_exist(engine, small_batches):
    # Checked per statement by a trigger (migration 0004) since the per-row foreign key was dropped.
    tenant = f"ledger-{uuid.uuid4().hex[:8]}"
    await seed(engine, tenant)
    posted_era = await post_era(engine, tenant)
    entry = dict(tenant_id=tenant, journal_id=uuid.uuid4(), claim_id=None, line_number=None,
                 account="provider_adjustment", group_code=None, reason_code="WO", amount=Decimal("1.00"))
    async with engine.connect() as conn:
        with pytest.raises(sa.exc.IntegrityError, match="remittance that does not exist"):
            async with conn.begin():
                await conn.execute(journal_entries.insert(), [entry | {"remittance_id": uuid.uuid4()}])
        # COPY runs on the driver's connection: asyncpg's own error class for 23503.
        with pytest.raises(asyncpg.exceptions.ForeignKeyViolationError, match="remittance that does not exist"):
            async with conn.begin():
                await pg_copy.copy_data(conn, pg_copy.CopyData("journal_entries", ("tenant_id", "journal_id",
                                        "remittance_id", "account", "amount"),
                                        [pg_copy.row([tenant, uuid.uuid4(), posted_era.remittance_id, "x", 1]),
                                         pg_copy.row([tenant, uuid.uuid4(), uuid.uuid4(), "x", 1])]))
        with pytest.raises(sa.exc.IntegrityError, match="has journal entries"):
            async with conn.begin():
                await conn.execute(sa.delete(remittances).where(remittances.c.id == posted_era.remittance_id))
        async with conn.begin():  # an entry of an existing remittance is fine
            await conn.execute(journal_entries.insert(), [entry | {"remittance_id": posted_era.remittance_id}])
