"""The collections consumer's handlers alone: CPU and statements per event (`python -m
bench.collections_consumer --handlers-alone`, described there).

Synthetic data only: four practices, five payers, claims of one to three lines; every event of a
phase is dated the same day, so the practice's KPI row of the day and its aging cells are the hot
rows they are under intake.
"""

from __future__ import annotations

import asyncio
import cProfile
import dataclasses
import os
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa

from bench.machine import load_average

RUN = 100  # events per shared transaction (the consumer's group commit)
PRACTICES = 4
PAYERS = 5
TICKS = os.sysconf("SC_CLK_TCK")


def _backend_cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime (proc(5))


def _claims(count: int, today: date) -> list[dict]:
    claims = []
    for number in range(count):
        lines = 1 + number % 3
        charge = Decimal(100 + number % 400) + Decimal("0.25")
        claims.append({"tenant": f"bench-practice-{number % PRACTICES}", "claim_id": uuid.uuid4(),
                       "patient": f"pat-{number % 997}", "payer": f"PAYER{number % PAYERS}",
                       "service": today - timedelta(days=1 + number % 40), "lines": lines,
                       "charge": charge * lines, "npi": f"19929999{number % 7:02d}"})
    return claims


def _submitted(claim: dict, now: datetime):
    from openrcm_shared.contracts.claims import ClaimSubmitted, SubmittedClaimLine

    per_line = claim["charge"] / claim["lines"]
    return ClaimSubmitted(
        tenant_id=claim["tenant"], claim_id=claim["claim_id"], encounter_id=f"enc-{claim['claim_id']}",
        patient_id=claim["patient"], payer_id=claim["payer"], patient_control_number=str(claim["claim_id"])[:20],
        total_charge=claim["charge"], service_date_from=claim["service"], service_date_to=claim["service"],
        submitted_at=now, payer_responsibility="P", billing_provider_npi=claim["npi"], claim_filing_indicator="CI",
        lines=[SubmittedClaimLine(line_number=n + 1, procedure_code="99213", units=1, charge_amount=per_line,
                                  service_date=claim["service"]) for n in range(claim["lines"])])


def _posted(claim: dict):
    from openrcm_shared.contracts.remittance import Adjustment, ClaimPaymentPosted

    charge = claim["charge"]
    owed = (charge * Decimal("0.10")).quantize(Decimal("0.01"))
    contractual = (charge * Decimal("0.30")).quantize(Decimal("0.01"))
    paid = charge - owed - contractual
    return ClaimPaymentPosted(
        tenant_id=claim["tenant"], claim_id=claim["claim_id"], remittance_id=uuid.uuid4(), patient_id=claim["patient"],
        payer_id=claim["payer"], patient_control_number=str(claim["claim_id"])[:20], outcome="paid",
        charge_amount=charge, allowed_amount=paid + owed, paid_amount=paid, patient_responsibility_amount=owed,
        adjustments=[Adjustment(group_code="CO", carc="45", amount=contractual),
                     Adjustment(group_code="PR", carc="2", amount=owed)], lines=[])


async def _apply_runs(engine, events: list, at: datetime) -> None:
    """As `Consumer._apply_run` and `_apply_on`: one transaction per RUN events, the inbox rows of
    the run first, each event applied acting for its practice, deferred writes at the commit."""
    from openrcm_collections.entrypoints.subscriptions import SUBSCRIPTIONS
    from openrcm_shared.messaging.consumer import HandlerContext, _SharedTransaction
    from openrcm_shared.messaging.envelope import Envelope
    from openrcm_shared.security.context import acting_for

    handlers = {s.contract.event_type: s.handler for s in SUBSCRIPTIONS}
    for start in range(0, len(events), RUN):
        run = [(dataclasses.replace(Envelope.new(type=e.event_type, source="bench", subject=e.key(),
                                                 tenant_id=e.tenant_id), time=at), e)
               for e in events[start:start + RUN]]
        shared = _SharedTransaction(engine, "collections", {envelope.id: envelope.type for envelope, _ in run})
        try:
            for envelope, event in run:
                with acting_for(envelope.tenant_id):
                    conn = await shared.connection()
                    assert shared.claim(envelope.id)
                    await shared.act_for(envelope.tenant_id)
                    await handlers[envelope.type](
                        HandlerContext(conn=conn, envelope=envelope, source="collections",
                                       aggregate_type="patient_account", deferred=shared.deferred), event)
            await shared.commit()
        except BaseException:
            await shared.rollback()
            raise


async def _measure(engine, backend_pid: int, counter: list[int], events: list, at: datetime, profiler) -> dict:
    statements, python, backend, wall = counter[0], time.process_time(), _backend_cpu(backend_pid), time.perf_counter()
    if profiler:
        profiler.enable()
    await _apply_runs(engine, events, at)
    if profiler:
        profiler.disable()
    n = len(events)
    return {"events": n, "wall_ms_per_event": round(1000 * (time.perf_counter() - wall) / n, 3),
            "python_cpu_ms_per_event": round(1000 * (time.process_time() - python) / n, 3),
            "postgres_backend_cpu_ms_per_event": round(1000 * (_backend_cpu(backend_pid) - backend) / n, 3),
            "statements_per_event": round((counter[0] - statements) / n, 2), "loadavg": load_average()}


async def _bench(url: str, count: int, profile_path: str | None) -> dict:
    from openrcm_shared.db import create_engine

    engine = create_engine(url, pool_size=1, max_overflow=0)
    counter = [0]

    @sa.event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args) -> None:
        counter[0] += 1

    async with engine.connect() as conn:  # the pool's one connection: every run's backend
        backend_pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    claims = _claims(count, now.date())
    submitted = [_submitted(claim, now) for claim in claims]
    posted = [_posted(claim) for claim in claims]
    profiler = cProfile.Profile() if profile_path else None
    try:
        await _apply_runs(engine, [_submitted(c, now) for c in _claims(RUN, now.date())], now)  # warm-up
        counter[0] = 0
        results = {"claim_submitted": await _measure(engine, backend_pid, counter, submitted, now, profiler),
                   "claim_payment_posted": await _measure(engine, backend_pid, counter, posted,
                                                          now + timedelta(hours=1), profiler)}
    finally:
        await engine.dispose()
    if profiler:
        profiler.dump_stats(profile_path)
    return results


def run_handlers_alone(count: int, profile_path: str | None = None) -> dict:
    from openrcm_devstack.paths import local_dir
    from openrcm_devstack.services import SERVICES, migrate_service
    from openrcm_devstack.stack import BENCH_PORTS, Stack

    stack = Stack(local_dir() / "bench-collections-consumer", BENCH_PORTS, fresh=True)
    try:
        stack.start_postgres()
        migrate_service(next(s for s in SERVICES if s.name == "collections"), stack.database_url("collections"))
        return {"events_per_transaction": RUN, "loadavg_before": load_average(),
                **asyncio.run(_bench(stack.app_database_url("collections"), count, profile_path))}
    finally:
        stack.stop()
