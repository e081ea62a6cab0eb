"""A statement run for many accounts, PDFs included (target: 100,000 accounts in <= 10 minutes).

    ./openrcm bench statements                      100,000 accounts
    ./openrcm bench statements --accounts 5000      a quick run

Starts its own embedded PostgreSQL (bench ports moved by OPENRCM_TEST_PORT_OFFSET, state in
.local/bench-statements), migrates the collections database and seeds it with COPY: per account one
bill (a primary claim of two lines, 1,200.00 and 460.00, decided by its payer) and the patient's
coinsurance on both lines. Then runs `run_statements` as the service does (app role, the practice
bound, one transaction), printing progress, and reports accounts per second, the time, the PDF
bytes and the statements written. BENCH_PROFILE=1 also prints the run's cProfile (top functions by
own time). Figures only, no assertions.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from bench.machine import describe_machine

TENANT = "bench-practice"
SERVED = date(2026, 10, 5)
AS_OF = date(2026, 12, 1)


def _records(accounts: int):
    """COPY records per table: accounts, bills, payer decisions, ledger entries (synthetic)."""
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    lines = [{"line_number": 1, "procedure_code": "99284", "revenue_code": "0450", "charge_amount": "1200.00",
              "service_date": SERVED.isoformat(), "description": None},
             {"line_number": 2, "procedure_code": "85025", "revenue_code": "0300", "charge_amount": "460.00",
              "service_date": SERVED.isoformat(), "description": "Complete blood count"}]
    decided = [{"line_number": 1, "charge": "1200.00", "allowed": "960.00", "paid": "768.00"},
               {"line_number": 2, "charge": "460.00", "allowed": "368.00", "paid": "294.40"}]
    shares = [{"line_number": 1, "carc": "2", "amount": "192.00"}, {"line_number": 2, "carc": "2", "amount": "73.60"}]
    tables = {"patient_accounts": [], "bill_claims": [], "payer_adjudications": [], "ledger_entries": []}
    for index in range(accounts):
        patient_id, claim_id = f"BENCH-{index:07d}", uuid.uuid4()
        guarantor = json.dumps({"name": f"Guarantor {index}", "relationship": "self", "address": {
            "line1": f"{index} Example Lane", "city": "Springfield", "state": "IL", "postal_code": "62701"}})
        tables["patient_accounts"].append((TENANT, patient_id, Decimal("265.60"), now, now, guarantor))
        tables["bill_claims"].append((TENANT, claim_id, claim_id, patient_id, f"ENC-{index}", "60054", "P",
                                      Decimal("1660.00"), SERVED, SERVED, json.dumps(lines), "Rene Renderer, MD", now))
        tables["payer_adjudications"].append((index + 1, TENANT, patient_id, claim_id, "60054", uuid.uuid4(),
                                              uuid.uuid4(), Decimal("1660.00"), Decimal("1328.00"),
                                              Decimal("1062.40"), json.dumps(shares), json.dumps(decided), now))
        for line, amount, balance in ((1, Decimal("192.00"), Decimal("192.00")), (2, Decimal("73.60"), Decimal("265.60"))):
            tables["ledger_entries"].append((TENANT, patient_id, claim_id, "patient_responsibility", "coinsurance",
                                             "2", amount, balance, uuid.uuid4(), now, line, "60054"))
    return tables


_COLUMNS = {
    "patient_accounts": ["tenant_id", "patient_id", "balance", "opened_at", "updated_at", "guarantor"],
    "bill_claims": ["tenant_id", "claim_id", "primary_claim_id", "patient_id", "encounter_id", "payer_id",
                    "payer_responsibility", "total_charge", "service_date_from", "service_date_to", "lines",
                    "provider_name", "recorded_at"],
    "payer_adjudications": ["id", "tenant_id", "patient_id", "claim_id", "payer_id", "remittance_id",
                            "source_event_id", "charge_amount", "allowed_amount", "paid_amount", "shares", "lines",
                            "adjudicated_at"],
    "ledger_entries": ["tenant_id", "patient_id", "claim_id", "entry_kind", "responsibility_kind", "carc", "amount",
                       "balance_after", "source_event_id", "posted_at", "line_number", "payer_id"],
}


async def _seed(owner_url: str, accounts: int) -> float:
    import asyncpg

    started = time.perf_counter()
    connection = await asyncpg.connect(owner_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for table, records in _records(accounts).items():
            await connection.copy_records_to_table(table, records=records, columns=_COLUMNS[table])
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


async def _run(app_url: str) -> dict:
    from openrcm_collections.service_layer.statements import run_statements
    from openrcm_collections.settings import CollectionsSettings
    from openrcm_shared.db import bind_practice, create_engine

    engine = create_engine(app_url, pool_size=2)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 5 or done == total:
            last[0] = now
            print(f"  {done:,} / {total:,} accounts ({done / max(now - started, 1e-9):,.0f}/s)", file=sys.stderr)

    try:
        started = time.perf_counter()
        async with engine.begin() as conn:
            await bind_practice(conn, TENANT)
            run = await run_statements(conn, TENANT, AS_OF, CollectionsSettings(), progress=progress)
        elapsed = time.perf_counter() - started
        async with engine.begin() as conn:
            await bind_practice(conn, TENANT)
            import sqlalchemy as sa
            pdf_bytes = (await conn.execute(sa.text("SELECT sum(length(pdf)) FROM statements"))).scalar()
    finally:
        await engine.dispose()
    return {"statements": run["statement_count"], "seconds": round(elapsed, 1),
            "accounts_per_second": round(run["statement_count"] / elapsed, 1),
            "pdf_bytes_average": round(pdf_bytes / max(run["statement_count"], 1)),
            "batch_file_bytes": len(run["batch_file"])}


def run(accounts: int) -> int:
    from openrcm_devstack.paths import local_dir
    from openrcm_devstack.services import SERVICES, migrate_service
    from openrcm_devstack.stack import BENCH_PORTS, Stack

    stack = Stack(local_dir() / "bench-statements", BENCH_PORTS, fresh=True)  # moved by OPENRCM_TEST_PORT_OFFSET
    try:
        stack.start_postgres()
        migrate_service(next(s for s in SERVICES if s.name == "collections"), stack.database_url("collections"))
        print(f"seeding {accounts:,} accounts with COPY ...", file=sys.stderr)
        seeded = asyncio.run(_seed(stack.database_url("collections"), accounts))
        print(f"seeded in {seeded:.1f} s; statement run:", file=sys.stderr)
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats
            profiler = cProfile.Profile()
            report = profiler.runcall(asyncio.run, _run(stack.app_database_url("collections")))
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        else:
            report = asyncio.run(_run(stack.app_database_url("collections")))
    finally:
        stack.stop()
    print(json.dumps({"machine": describe_machine(), "accounts": accounts, "seed_seconds": round(seeded, 1),
                      "run": report}, indent=2))
    return 0
