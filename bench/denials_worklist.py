"""The denials worklist's first page with 1,000,000 open cases: p50/p95/p99 per query shape.

    uv run python -m bench.denials_worklist                      # 1,000,000 cases, 300 first pages per shape
    uv run python -m bench.denials_worklist --cases 100000 --pages 100

Starts its own embedded PostgreSQL (.local/bench-denials-worklist, the bench PostgreSQL port moved by
OPENRCM_TEST_PORT_OFFSET), migrates a denials database, and seeds one practice's cases with COPY
(synthetic: 20 payers, every category, every case unresolved, in worklist proportions of the five
unresolved statuses, amounts $10-$5,000, opened over the last 90 days), then ANALYZE. Each shape is the
query GET /v1/denials runs (entrypoints.api: the same builder and keyset page of 50), through the app role
under row-level security with the practice bound, as the service runs it (HTTP and token checks are not
in the figures). Also the server's own execution time (EXPLAIN ANALYZE) and the index each plan scans. The
target (issue 15): first page p99 <= 50 ms for the default sort and a filtered one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

TARGET_P99_MS = 50.0
# Every seeded case is unresolved (on the worklist), in these proportions.
STATUSES = (("open", 60), ("in_progress", 20), ("waiting_on_clinical", 5), ("corrected_resubmitted", 5),
            ("appealed", 10))
COLUMNS = ("id", "tenant_id", "claim_id", "remittance_id", "patient_control_number", "payer_id", "status",
           "denied_amount", "primary_group_code", "primary_carc", "denials", "appeal_deadline", "opened_at",
           "category", "owning_team", "preventable", "recommended_action", "rule", "rule_why", "mapping_version",
           "recoverable_amount", "priority", "priority_parts", "work_deadline", "corrected_claim_deadline",
           "remittance_date", "status_changed_at", "assignee", "assignee_kind")
TENANT = "bench-practice"


def _records(count: int, seed: int = 15):
    from openrcm_denials.domain.categories import categorizer
    from openrcm_denials.domain.priority import Outcomes, priority

    rng = random.Random(seed)
    engine = categorizer()
    carcs = [rule for rule in engine.rules.values() if not rule.not_denial_groups]
    statuses = [status for status, weight in STATUSES for _ in range(weight)]
    payers = [f"{60000 + n}" for n in range(20)]
    today = datetime.now(timezone.utc).date()
    now = datetime.now(timezone.utc)
    for _ in range(count):
        rule = rng.choice(carcs)
        amount = Decimal(rng.randint(1_000, 500_000)) / 100
        opened = today - timedelta(days=rng.randint(0, 90))
        deadline = opened + timedelta(days=90)
        ranked = priority(amount, rule.category.value, Outcomes(), deadline, today)
        found = engine.categorize("CO", rule.carc)
        yield (uuid.uuid4(), TENANT, uuid.uuid4(), uuid.uuid4(), f"PCN{rng.randint(0, 10**9)}", rng.choice(payers),
               rng.choice(statuses), amount, "CO", rule.carc,
               json.dumps([{"line_number": 1, "group_code": "CO", "carc": rule.carc, "rarcs": [],
                            "amount": str(amount)}]), deadline,
               datetime.combine(opened, datetime.min.time(), timezone.utc), found.category.value,
               found.owning_team.value, found.preventable, found.recommended_action.value, found.rule, found.why,
               engine.version, amount, ranked.score, json.dumps(ranked.parts()), deadline,
               opened + timedelta(days=90), opened, now, rng.choice([None, None, "coders", "front-desk"]),
               None)


async def _seed(owner_url: str, count: int) -> float:
    import asyncpg

    started = time.perf_counter()
    connection = await asyncpg.connect(owner_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        batch, records = 100_000, _records(count)
        while chunk := [record for _, record in zip(range(batch), records)]:
            await connection.copy_records_to_table("denial_cases", records=chunk, columns=COLUMNS)
        await connection.execute("ANALYZE denial_cases")
    finally:
        await connection.close()
    return time.perf_counter() - started


SHAPES = {
    "default (unresolved, by priority)": {},
    "category=coding": {"category": ["coding"]},
    "payer + status=open": {"payer_id": "60007", "status": ["open"]},
    "assignee=coders, by amount": {"assignee": "coders", "sort": "amount"},
    "by deadline (soonest first)": {"sort": "deadline"},
    "age >= 60 days, oldest first": {"min_age_days": 60, "sort": "age"},
}


async def _pages(app_url: str, pages: int) -> dict:
    from openrcm_denials.adapters.tables import denial_cases
    from openrcm_denials.domain.case_status import CaseStatus
    from openrcm_denials.domain.categories import Category
    from openrcm_denials.entrypoints.api import SORTS, _worklist_query
    from openrcm_shared.db import create_engine
    from openrcm_shared.http.pagination import fetch_page
    from openrcm_shared.security.context import acting_for

    engine = create_engine(app_url, pool_size=1)
    results = {}
    try:
        with acting_for(TENANT):
            for name, params in SHAPES.items():
                column, descending = SORTS[params.get("sort", "priority")]
                query = _worklist_query(
                    TENANT, [CaseStatus(s) for s in params["status"]] if "status" in params else None,
                    [Category(c) for c in params["category"]] if "category" in params else None,
                    params.get("payer_id"), None, params.get("assignee"), None, params.get("min_age_days"), None,
                    None, None)
                order_by = [denial_cases.c[column], denial_cases.c.id]
                timings, first = [], None
                for index in range(pages + 10):  # 10 unreported warm-up pages
                    started = time.perf_counter()
                    async with engine.connect() as conn:
                        rows, cursor = await fetch_page(conn, query, order_by=order_by, cursor=None, limit=50,
                                                        descending=descending)
                    if index >= 10:
                        timings.append((time.perf_counter() - started) * 1000)
                    first = first or len(rows)
                ordering = [c.desc() if descending else c.asc() for c in order_by]
                server = []
                async with engine.connect() as conn:
                    for _ in range(20):  # the server's own execution time: what the machine's load adds is not in it
                        [[plan]] = (await conn.execute(_explain(query, ordering))).all()
                        server.append(plan[0]["Execution Time"])
                timings.sort()
                results[name] = {"rows": first, "p50_ms": round(statistics.median(timings), 2),
                                 "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
                                 "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2),
                                 "server_execution_p50_ms": round(statistics.median(server), 3),
                                 "server_execution_max_ms": round(max(server), 3),
                                 "index": _indexes(plan[0]["Plan"]), "pages": pages}
    finally:
        await engine.dispose()
    return results


def _explain(query, ordering):
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    compiled = query.order_by(*ordering).limit(51).compile(dialect=postgresql.dialect(),
                                                          compile_kwargs={"literal_binds": True})
    return sa.text(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}")


def _indexes(node: dict) -> list[str]:
    """The indexes the plan scans (a Seq Scan shows as such)."""
    found = [node["Index Name"]] if "Index Name" in node else (["Seq Scan"] if node["Node Type"] == "Seq Scan" else [])
    for child in node.get("Plans", []):
        found += _indexes(child)
    return found


def run(cases: int, pages: int) -> dict:
    from openrcm_devstack.paths import local_dir
    from openrcm_devstack.services import SERVICES, migrate_service
    from openrcm_devstack.stack import BENCH_PORTS, Stack, StackPorts

    offset = int(os.environ.get("OPENRCM_TEST_PORT_OFFSET", "0") or 0)
    ports = StackPorts(postgres=BENCH_PORTS.postgres + offset, kafka=BENCH_PORTS.kafka + offset,
                       kafka_controller=BENCH_PORTS.kafka_controller + offset)
    stack = Stack(local_dir() / "bench-denials-worklist", ports, fresh=True)
    try:
        stack.start_postgres()
        migrate_service(next(s for s in SERVICES if s.name == "denials"), stack.database_url("denials"))
        seeded = asyncio.run(_seed(stack.database_url("denials"), cases))
        shapes = asyncio.run(_pages(stack.app_database_url("denials"), pages))
    finally:
        stack.stop_postgres()
    gate = [shapes["default (unresolved, by priority)"]["p99_ms"], shapes["category=coding"]["p99_ms"]]
    return {"benchmark": "denials_worklist", "cases": cases, "seed_seconds": round(seeded, 1), "shapes": shapes,
            "target_p99_ms": TARGET_P99_MS, "meets_target": max(gate) <= TARGET_P99_MS}


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--cases", type=int, default=1_000_000)
    options.add_argument("--pages", type=int, default=300)
    options.add_argument("--json", type=str)
    args = options.parse_args(argv)
    result = run(max(1, min(args.cases, 2_000_000)), max(20, min(args.pages, 5_000)))
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
