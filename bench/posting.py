"""835 posting into PostgreSQL: claim payments per second, and a 100,000-claim ERA end to end.

    ./openrcm bench posting                       10,000 then 100,000 claims (2 lines each), one ERA each
    ./openrcm bench posting --sizes 20000         one size

Starts its own PostgreSQL (embedded, BENCH ports, .local/bench-posting) and migrates the
remittance database; no Kafka is needed (events are staged in the outbox, as in the service; the
relay publishes them later and is not measured here). Each size runs in a fresh process that:
seeds the billed claims the ERA pays (as ClaimSubmitted would have), generates the synthetic 835 of
bench.x12_835 into a temporary file (its REF*6R values are not ours, so every line is matched by
procedure + date + charge, the slower fallback path), then stores it and posts it with the same
functions the upload endpoint calls (`store_file`, `process_file`). Reported: store and post wall
time, claim payments posted per second, the process's peak RSS (flat in the file's size means the
10,000- and 100,000-claim runs peak alike), and the posted totals checked against the generator's.
Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import sqlalchemy as sa

from bench.cpu import CpuMeter
from bench.machine import describe_machine
from bench.x12_835 import SyntheticTotals, billed_lines, patient_control_number, synthetic_835

TARGET_CLAIMS_PER_SECOND = 5_000
TARGET_ERA_SECONDS = 60.0
LINES_PER_CLAIM = 2


async def _seed(engine, tenant_id: str, claims: int) -> None:
    from openrcm_remittance.adapters.tables import expected_claims

    now = datetime.now(timezone.utc)
    async with engine.begin() as conn:
        for start in range(0, claims, 5000):
            rows = []
            for number in range(start, min(start + 5000, claims)):
                lines = billed_lines(number, LINES_PER_CLAIM)
                rows.append(dict(claim_id=uuid4(), tenant_id=tenant_id,
                                 patient_control_number=patient_control_number(number),
                                 patient_id=f"P{number % 997}", payer_id="60054",
                                 total_charge=sum(Decimal(l["charge_amount"]) for l in lines), lines=lines,
                                 submitted_at=now))
            await conn.execute(expected_claims.insert(), rows)


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _database_and_machine_cpu(postmaster_pid: int | None) -> tuple[float, float]:
    """CPU seconds so far of the bench's PostgreSQL (postmaster and backends) and of the whole
    machine, read from /proc by the intake benchmark's meter."""
    sample = CpuMeter({"postgresql": postmaster_pid} if postmaster_pid else {}).sample()
    return sample.components.get("postgresql", 0.0), sample.machine_busy


async def _file_chunks(path: Path):
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def _start_profile(path: str | None):
    if path is None:
        return None
    import cProfile

    profiler = cProfile.Profile(time.process_time)  # CPU time: waiting for PostgreSQL is not counted
    profiler.enable()
    return profiler


def _stop_profile(profiler, path: str | None) -> None:
    if profiler is None:
        return
    import io
    import pstats

    profiler.disable()
    profiler.dump_stats(path)
    summary = io.StringIO()
    pstats.Stats(profiler, stream=summary).sort_stats("tottime").print_stats(25)
    print(summary.getvalue(), file=sys.stderr)


async def _worker(database_url: str, claims: int, workers: int | None, profile: str | None = None,
                  postgres_pid: int | None = None) -> dict:
    from openrcm_remittance.service_layer import posting_workers
    from openrcm_remittance.service_layer.era_intake import process_file
    from openrcm_remittance.service_layer.files import store_file
    from openrcm_shared.db import create_engine

    engine = create_engine(database_url)
    tenant_id = f"bench-{uuid4().hex[:8]}"
    await _seed(engine, tenant_id, claims)
    # As the service does at start-up: the posting worker processes are up before any ERA arrives.
    workers = posting_workers.configured_workers() if workers is None else workers
    await asyncio.to_thread(posting_workers.start, engine, workers)
    totals = SyntheticTotals()
    with tempfile.NamedTemporaryFile(suffix=".835") as spool:
        for chunk in synthetic_835(claims, lines_per_claim=LINES_PER_CLAIM, totals=totals):
            spool.write(chunk)
        spool.flush()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        cpu_before = _cpu_seconds(resource.RUSAGE_SELF)
        database_before, machine_before = _database_and_machine_cpu(postgres_pid)
        started = time.perf_counter()
        stored = await store_file(engine, _file_chunks(Path(spool.name)), scope=tenant_id, tenant_id=tenant_id,
                                  source="upload")
        stored_at = time.perf_counter()
        profiler = _start_profile(profile)
        outcome = await process_file(engine, stored.id)
        finished = time.perf_counter()
        _stop_profile(profiler, profile)
        cpu_main = _cpu_seconds(resource.RUSAGE_SELF) - cpu_before
        database_after, machine_after = _database_and_machine_cpu(postgres_pid)
        cpu_database, machine_busy = database_after - database_before, machine_after - machine_before
    [transaction] = outcome.transactions
    async with engine.connect() as conn:
        paid = (await conn.execute(sa.text(
            "SELECT coalesce(sum(amount), 0) FROM journal_entries WHERE remittance_id = :r AND account = 'payer_payment'"),
            {"r": transaction.remittance_id})).scalar()
        unbalanced = (await conn.execute(sa.text(
            "SELECT count(*) FROM (SELECT journal_id FROM journal_entries WHERE remittance_id = :r "
            "GROUP BY journal_id HAVING sum(amount) <> 0) j"), {"r": transaction.remittance_id})).scalar()
        events = (await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE tenant_id = :t"),
                                     {"t": tenant_id})).scalar()
    await engine.dispose()
    posting_workers.shutdown()
    post_seconds = finished - stored_at
    return {"claims": claims, "posting_workers": workers, "file_bytes": totals.bytes, "status": transaction.status,
            "reasons": transaction.reasons, "store_seconds": round(stored_at - started, 2),
            "post_seconds": round(post_seconds, 2), "end_to_end_seconds": round(finished - started, 2),
            "claims_per_second": round(claims / post_seconds), "events_staged": events,
            "payer_payment_total": str(paid), "bpr02_total": str(totals.total_payment),
            "unbalanced_journals": unbalanced,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            # CPU seconds while storing and posting: this process, the workers (preparing batches), and
            # the whole machine (PostgreSQL is most of the rest; anything else running too).
            "cpu_seconds_posting_process": round(cpu_main, 2),
            "cpu_seconds_workers": round(posting_workers.worker_cpu_seconds(), 2),
            "cpu_seconds_postgresql": round(cpu_database, 2),
            "cpu_seconds_machine_busy": round(machine_busy, 2),
            # The largest posting worker process's peak (they have exited by now, so they count).
            "worker_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            "rss_before_post_mib": round(rss_before / 2**20, 1)}


def run(sizes: list[int], workers: int | None, profile: bool = False) -> int:
    from openrcm_devstack.paths import local_dir
    from openrcm_devstack.services import SERVICES
    from openrcm_devstack.services import migrate_service
    from openrcm_devstack.stack import BENCH_PORTS, Stack

    stack = Stack(local_dir() / "bench-posting", BENCH_PORTS, fresh=True)
    results = []
    try:
        stack.start_postgres()
        spec = next(s for s in SERVICES if s.name == "remittance")
        url = stack.database_url("remittance")
        migrate_service(spec, url)
        for size in sizes:
            command = [sys.executable, "-m", "bench.posting", "--worker", "--database-url", url, "--sizes", str(size)]
            if workers is not None:
                command += ["--workers", str(workers)]
            if stack.postgres and stack.postgres.process:
                command += ["--postgres-pid", str(stack.postgres.process.pid)]
            if profile:
                path = local_dir() / "bench" / f"profile-posting-{size}-{time.strftime('%Y%m%d-%H%M%S')}.prof"
                path.parent.mkdir(parents=True, exist_ok=True)
                command += ["--profile", str(path)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if profile:
                print(done.stderr, file=sys.stderr)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            result = json.loads(done.stdout.strip().splitlines()[-1])
            results.append(result)
            print(json.dumps(result))
    finally:
        stack.stop()
    report = {"machine": describe_machine(), "runs": results,
              "targets": {"claims_per_second": TARGET_CLAIMS_PER_SECOND, "era_100k_seconds": TARGET_ERA_SECONDS}}
    print(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.posting", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="claims per ERA, comma-separated")
    parser.add_argument("--workers", type=int, default=None,
                        help="posting worker processes (default: the service's, OPENRCM_REMITTANCE_POSTING_WORKERS "
                             "or 2; 0 posts in one process)")
    parser.add_argument("--profile", nargs="?", const="", default=None,
                        help="cProfile (CPU time) of the posting process; with --workers 0 that is all the "
                             "posting work, else the workers' part is not in it")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--postgres-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    sizes = [int(part) for part in options.sizes.split(",") if part.strip()]
    if options.worker:
        print(json.dumps(asyncio.run(_worker(options.database_url, sizes[0], options.workers,
                                             options.profile or None, options.postgres_pid))))
        return 0
    return run(sizes, options.workers, options.profile is not None)


if __name__ == "__main__":
    sys.exit(main())
