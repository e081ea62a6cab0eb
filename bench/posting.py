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

from bench.machine import describe_machine
from bench.x12_835 import _PROCEDURES, _SERVICE_DATES, SyntheticTotals, synthetic_835

TARGET_CLAIMS_PER_SECOND = 5_000
TARGET_ERA_SECONDS = 60.0
LINES_PER_CLAIM = 2


def _billed_lines(number: int) -> list[dict]:
    """The lines we billed for synthetic claim `number` (what ClaimSubmitted would have said)."""
    service_date = _SERVICE_DATES[number % 60]
    iso = f"{service_date[:4]}-{service_date[4:6]}-{service_date[6:]}"
    lines = []
    for position in range(LINES_PER_CLAIM):
        composite, charge = _PROCEDURES[(number + position) % len(_PROCEDURES)]
        _qualifier, code, *modifiers = composite.split(":")
        lines.append({"line_number": position + 1, "procedure_code": code, "modifiers": modifiers, "units": 1,
                      "charge_amount": str(charge), "service_date": iso})
    return lines


async def _seed(engine, tenant_id: str, claims: int) -> None:
    from openrcm_remittance.adapters.tables import expected_claims

    now = datetime.now(timezone.utc)
    async with engine.begin() as conn:
        for start in range(0, claims, 5000):
            rows = []
            for number in range(start, min(start + 5000, claims)):
                lines = _billed_lines(number)
                rows.append(dict(claim_id=uuid4(), tenant_id=tenant_id, patient_control_number=f"BENCH{number:012d}",
                                 patient_id=f"P{number % 997}", payer_id="60054",
                                 total_charge=sum(Decimal(l["charge_amount"]) for l in lines), lines=lines,
                                 submitted_at=now))
            await conn.execute(expected_claims.insert(), rows)


async def _file_chunks(path: Path):
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


async def _worker(database_url: str, claims: int) -> dict:
    from openrcm_remittance.service_layer.era_intake import process_file
    from openrcm_remittance.service_layer.files import store_file
    from openrcm_shared.db import create_engine

    engine = create_engine(database_url)
    tenant_id = f"bench-{uuid4().hex[:8]}"
    await _seed(engine, tenant_id, claims)
    totals = SyntheticTotals()
    with tempfile.NamedTemporaryFile(suffix=".835") as spool:
        for chunk in synthetic_835(claims, lines_per_claim=LINES_PER_CLAIM, totals=totals):
            spool.write(chunk)
        spool.flush()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        started = time.perf_counter()
        stored = await store_file(engine, _file_chunks(Path(spool.name)), scope=tenant_id, tenant_id=tenant_id,
                                  source="upload")
        stored_at = time.perf_counter()
        outcome = await process_file(engine, stored.id)
        finished = time.perf_counter()
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
    post_seconds = finished - stored_at
    return {"claims": claims, "file_bytes": totals.bytes, "status": transaction.status,
            "reasons": transaction.reasons, "store_seconds": round(stored_at - started, 2),
            "post_seconds": round(post_seconds, 2), "end_to_end_seconds": round(finished - started, 2),
            "claims_per_second": round(claims / post_seconds), "events_staged": events,
            "payer_payment_total": str(paid), "bpr02_total": str(totals.total_payment),
            "unbalanced_journals": unbalanced,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_before_post_mib": round(rss_before / 2**20, 1)}


def run(sizes: list[int]) -> int:
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
            done = subprocess.run([sys.executable, "-m", "bench.posting", "--worker", "--database-url", url,
                                   "--sizes", str(size)], capture_output=True, text=True, check=False)
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
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    sizes = [int(part) for part in options.sizes.split(",") if part.strip()]
    if options.worker:
        print(json.dumps(asyncio.run(_worker(options.database_url, sizes[0]))))
        return 0
    return run(sizes)


if __name__ == "__main__":
    sys.exit(main())
