"""What a claim's events cost a service's consumer, the whole way: `python -m bench.consumer_apply`.

    python -m bench.consumer_apply --service denials --claims 2000 --batch 8
    python -m bench.consumer_apply --service all --profile .local/consumer-apply.prof

Under intake load every claim sends three events down the claims topic (its submission, the 999's
acceptance and the 277CA's acceptance by the payer: what `batches` and `acknowledgements` emit for
a claim accepted whole), and four consumer groups read them all. This drives the real `InboxConsumer` of a service (header telling,
envelope, contract validation, span, inbox rows, the service's handlers, deferred writes, the
commit) over those records on its own embedded PostgreSQL (bench ports, `.local/bench-consumer-apply`,
migrated for the service, the app role), through its `run` loop, each fetch handing over `--batch`
records of every partition, as a consumer under load receives them (a fetch every few
milliseconds: a few records per partition). Only the broker is left out: the records are built here
as the outbox relay sends them (CloudEvents headers, the claim id as key, the contract's JSON) and
handed over as `getmany` would; offsets are committed nowhere.

Printed per service: Python CPU (this process) and PostgreSQL backend CPU per claim and per
handled event, statements per claim, with the load average. CPU figures, so a busy machine
inflates them less than a wall-clock figure; compare runs at similar load.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
import uvloop
from aiokafka import ConsumerRecord, TopicPartition

from bench.collections_handlers import _backend_cpu
from bench.machine import load_average

SERVICES = ("denials", "collections", "eligibility", "remittance")
PARTITIONS = 6  # rcm.claims.events.v1 (deploy/topics.toml)
TOPIC = "rcm.claims.events.v1"
EVENTS_PER_CLAIM = 3  # claim_life()


def claim_life(tenant_id: str, number: int, today: date) -> list:
    """The events the claims service emits for one claim from intake to the payer's acceptance, in order."""
    from openrcm_shared.contracts.claims import (
        ClaimAcceptedByClearinghouse, ClaimAcceptedByPayer, ClaimSubmitted, SubmittedClaimLine,
    )

    claim_id, patient = uuid.uuid4(), f"pat-{number:07d}"
    service = today - timedelta(days=1 + number % 20)
    lines = [SubmittedClaimLine(line_number=n + 1, procedure_code=("99213", "85025", "36415")[n],
                                units=1, charge_amount=Decimal("125.00") - 40 * n, service_date=service)
             for n in range(1 + number % 3)]
    now = datetime.now(timezone.utc)
    return [
        ClaimSubmitted(tenant_id=tenant_id, claim_id=claim_id, encounter_id=f"enc-{number}", patient_id=patient,
                       payer_id="60054", patient_control_number=f"PCN{number:09d}",
                       total_charge=sum(line.charge_amount for line in lines), service_date_from=service,
                       service_date_to=service, submitted_at=now, lines=lines, claim_type="professional",
                       payer_responsibility="P", provider_name="Dana Bench MD", interchange_control_number="000000123",
                       transaction_set_control_number="0001", frequency_code="1", patient_name=f"Bench{number}, Pat",
                       member_id=f"M{number:09d}", payer_name="Bench Health Plan",
                       billing_provider_name="Bench Clinic", billing_provider_npi="1992999999",
                       diagnosis_codes=["E119", "I10"], rendering_provider_npi="1992999998",
                       claim_filing_indicator="CI"),
        ClaimAcceptedByClearinghouse(tenant_id=tenant_id, claim_id=claim_id, version=1, acknowledgement="999",
                                     control_number="000000501"),
        ClaimAcceptedByPayer(tenant_id=tenant_id, claim_id=claim_id, version=1,
                             payer_claim_control_number=f"PAYER{number:010d}", control_number="000000502"),
    ]


def records(tenant_id: str, claims: int) -> dict[TopicPartition, list[ConsumerRecord]]:
    """Every claim's events as the relay publishes them, by partition in offset order."""
    from openrcm_shared.messaging.envelope import Envelope

    today = datetime.now(timezone.utc).date()
    by_partition: dict[TopicPartition, list[ConsumerRecord]] = {TopicPartition(TOPIC, p): [] for p in range(PARTITIONS)}
    for number in range(claims):
        for event in claim_life(tenant_id, number, today):
            key = event.key().encode()
            tp = TopicPartition(TOPIC, hash(key) % PARTITIONS)
            envelope = Envelope.new(type=event.event_type, source="claims", subject=event.key(), tenant_id=tenant_id,
                                    traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00")
            value = event.model_dump_json().encode()
            partition = by_partition[tp]
            partition.append(ConsumerRecord(TOPIC, tp.partition, len(partition), int(time.time() * 1000), 0, key,
                                            value, None, len(key), len(value), envelope.to_headers()))
    return by_partition


class _Fetched:
    """aiokafka's consumer as `InboxConsumer.run` uses it, without a broker: each `getmany` hands
    over the next `size` records of every partition (as one fetch under load brings a few records
    per partition); once all are handed over, the run ends."""

    def __init__(self, by_partition: dict[TopicPartition, list[ConsumerRecord]], size: int) -> None:
        self._by_partition = by_partition
        self._size = size
        self._position = dict.fromkeys(by_partition, 0)

    def assignment(self):
        return set(self._by_partition)

    def paused(self):
        return set()

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict:
        fetched = {}
        for tp, start in self._position.items():
            if chunk := self._by_partition[tp][start:start + self._size]:
                fetched[tp] = chunk
                self._position[tp] = start + len(chunk)
        if not fetched:
            raise _AllApplied()
        return fetched

    async def commit(self, offsets) -> None:
        return None


class _AllApplied(Exception):
    pass


async def _drive(service: str, url: str, claims: int, batch: int, profiler) -> dict:
    import importlib

    from openrcm_shared.db import create_engine
    from openrcm_shared.gc_tuning import settle_after_start_up
    from openrcm_shared.messaging.consumer import InboxConsumer
    from openrcm_shared.observability import configure_tracing

    subscriptions = importlib.import_module(f"openrcm_{service}.entrypoints.subscriptions").SUBSCRIPTIONS
    configure_tracing(service)  # as the service's process does (span ids, no recording by default)
    engine = create_engine(url, pool_size=2, max_overflow=0)
    statements = [0]

    @sa.event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args) -> None:
        statements[0] += 1

    async def apply(by_partition) -> None:
        consumer = InboxConsumer(engine=engine, consumer=_Fetched(by_partition, batch), dlq_producer=None,
                                 group_id=service, subscriptions=subscriptions, source=service, aggregate_type=service)
        try:
            await consumer.run()
        except _AllApplied:
            pass

    try:
        await apply(records("bench-warm-up", 50))
        async with engine.connect() as conn:
            backends = (await conn.execute(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " UNION SELECT pg_backend_pid()"))).scalars().all()
        measured = records("bench-practice", claims)
        settle_after_start_up()  # as the service's process does once started (and the records stay alive)
        handled = sum(1 for chunk in measured.values() for record in chunk
                      if dict(record.headers)["ce_type"].decode() in {s.contract.event_type for s in subscriptions})
        statements[0], python, wall = 0, time.process_time(), time.perf_counter()
        backend = sum(_backend_cpu(pid) for pid in backends)
        if profiler:
            profiler.enable()
        await apply(measured)
        if profiler:
            profiler.disable()
        python, wall = time.process_time() - python, time.perf_counter() - wall
        backend = sum(_backend_cpu(pid) for pid in backends) - backend
    finally:
        await engine.dispose()
    return {"claims": claims, "records": claims * EVENTS_PER_CLAIM, "handled_events": handled, "batch": batch,
            "python_cpu_ms_per_claim": round(1000 * python / claims, 3),
            "python_cpu_us_per_handled_event": round(1e6 * python / max(handled, 1), 1),
            "postgres_cpu_ms_per_claim": round(1000 * backend / claims, 3),
            "statements_per_claim": round(statements[0] / claims, 2), "wall_s": round(wall, 2),
            "loadavg": load_average()}


def run(services: list[str], claims: int, batch: int, profile_path: str | None) -> dict:
    from openrcm_devstack.paths import local_dir
    from openrcm_devstack.services import SERVICES as SPECS, migrate_service
    from openrcm_devstack.stack import BENCH_PORTS, Stack

    stack = Stack(local_dir() / "bench-consumer-apply", BENCH_PORTS, fresh=True)
    profiler = cProfile.Profile(time.process_time) if profile_path else None  # CPU, not waiting
    results = {}
    try:
        stack.start_postgres()
        for service in services:
            migrate_service(next(s for s in SPECS if s.name == service), stack.database_url(service))
            # uvloop, as the services run (devstack starts uvicorn with --loop uvloop)
            results[service] = uvloop.run(_drive(service, stack.app_database_url(service), claims, batch, profiler))
    finally:
        stack.stop()
    if profiler:
        profiler.dump_stats(profile_path)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.consumer_apply", description=__doc__.split("\n")[0])
    parser.add_argument("--service", default="all", help=f"one of {', '.join(SERVICES)}, or all (default)")
    parser.add_argument("--claims", type=int, default=2000, help="claims whose events are applied (default 2000)")
    parser.add_argument("--batch", type=int, default=8, help="records per partition batch (default 8)")
    parser.add_argument("--profile", help="write a cProfile of the measured applying here")
    options = parser.parse_args()
    services = list(SERVICES) if options.service == "all" else [options.service]
    print(json.dumps(run(services, min(options.claims, 50_000), max(1, options.batch), options.profile), indent=2))


if __name__ == "__main__":
    main()
