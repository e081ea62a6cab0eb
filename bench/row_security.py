"""What row-level security costs per transaction: a micro-benchmark on PostgreSQL alone.

    ./openrcm bench row-security                     20 rounds of 300 transactions per variant
    ./openrcm bench row-security --transactions 500 --rounds 5

Starts its own embedded PostgreSQL (.local/bench-row-security, the bench PostgreSQL port moved by
OPENRCM_TEST_PORT_OFFSET), migrates a claims database, registers a payer, and runs the same
transaction, one at a time on one connection, in each variant:

  read      BEGIN, the payer lookup the intake starts with (a driver statement), COMMIT: the
            shape of most API transactions.
    owner                the superuser, no practice (what every transaction was before);
    owner, in BEGIN      the superuser with the practice set in the BEGIN's message: the
                         binding alone, without policies (a superuser bypasses them);
    app, in BEGIN        the app role under the policies, the practice set by SET LOCAL in the
                         BEGIN's own message (openrcm_shared.db, what the services do);
    app, set_config      the same, the practice set by a statement of its own after BEGIN (what a
                         hook running a statement per transaction would cost: one more round trip).
  intake    the intake's one-statement write of a new claim (claims' NewClaimsAlone), alone in
            its implicit transaction.
    owner, unbound       the statement without its practice CTE, as the superuser (as before);
    owner                the statement now (it sets its own practice), as the superuser;
    app                  the statement now, as the app role, under the policies of the four
                         tables it writes and the payer it checks.

Variants alternate round by round, so drift on a shared machine spreads over all of them.
Reported per transaction: wall time, this process's CPU (the service side: asyncpg, SQLAlchemy)
and the PostgreSQL backend's CPU (from /proc), the median and the lowest of the rounds. Figures
only.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from pathlib import Path

from bench.cpu import TICKS_PER_SECOND

READ_VARIANTS = ("read: owner", "read: app, in BEGIN", "read: app, set_config", "read: owner, in BEGIN")
# What the practice costs a transaction, as differences of the variants (bench.security_share):
# the binding alone (client and server), and the policies' evaluation on a read.
BINDING = (READ_VARIANTS[0], READ_VARIANTS[3])
POLICIES_ON_A_READ = (READ_VARIANTS[3], READ_VARIANTS[1])
INTAKE_VARIANTS = ("intake: owner, unbound", "intake: owner", "intake: app")


def _backend_cpu(pid: int) -> float:
    """CPU seconds of a PostgreSQL backend so far: from the scheduler's nanosecond count where the
    kernel keeps one (proc(5), /proc/PID/schedstat), else from clock ticks (10 ms apart)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def unbound_intake_statement(sql: str) -> str:
    """The intake statement without its practice CTE (as it was before row-level security): the
    claim's practice straight from its parameter. Refuses a statement it does not recognise."""
    head = "WITH practice AS MATERIALIZED \n(SELECT set_config('app.tenant_id', "
    start = sql.index(head) + len(head)
    parameter = sql[start:sql.index(",", start)]  # e.g. $28::VARCHAR
    replacements = [(sql[:sql.index("), \n", start) + 4], "WITH "),
                    ("practice.tenant_id AS tenant_id", f"{parameter} AS tenant_id"),
                    ("\nFROM practice \nWHERE", "\nWHERE"),
                    ("payers.tenant_id = practice.tenant_id", f"payers.tenant_id = {parameter}")]
    for old, new in replacements:
        if sql.count(old) != 1:
            raise ValueError(f"the intake statement changed: {old!r}")
        sql = sql.replace(old, new)
    return sql


class _Variant:
    def __init__(self, name: str, engine, run_one) -> None:  # noqa: ANN001
        self.name, self.engine, self.run_one = name, engine, run_one
        self.per_round: list[tuple[float, float, float]] = []  # (wall, client cpu, server cpu) per transaction

    async def round(self, transactions: int) -> None:
        async with self.engine.connect() as conn:
            pid = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar()
        server, client, wall = _backend_cpu(pid), time.process_time(), time.perf_counter()
        for _ in range(transactions):
            await self.run_one()
        self.per_round.append(((time.perf_counter() - wall) / transactions,
                               (time.process_time() - client) / transactions,
                               (_backend_cpu(pid) - server) / transactions))

    def figures_us(self) -> dict[str, float]:
        """Per transaction, in microseconds: the median over the rounds, and the lowest round
        (on a shared machine the noise only ever adds, so the lowest is the closest to the cost
        itself)."""
        figures = {}
        for i, name in enumerate(("wall", "client_cpu", "server_cpu")):
            values = [r[i] for r in self.per_round]
            figures[f"{name}_us"] = round(statistics.median(values) * 1e6, 1)
            figures[f"{name}_min_us"] = round(min(values) * 1e6, 1)
        return figures


async def _variants(owner_url: str, app_url: str, tenant_id: str, with_intake: bool) -> list[_Variant]:
    import copy
    from datetime import datetime, timezone

    from openrcm_claims.adapters import claim_writes
    from openrcm_shared.driver_sql import fetch_many_alone
    from openrcm_claims.adapters.tables import payers
    from openrcm_claims.entrypoints.schemas import EncounterIn
    from openrcm_claims.service_layer.reference_data import find_payer
    from openrcm_claims.service_layer.scrubbing import ready_code_sets
    from openrcm_claims.service_layer.submission import prepare_claim
    from openrcm_shared.db import bind_practice, create_engine
    from tests.support import encounter

    def engine_of(name: str):  # noqa: ANN202 - one connection per variant: its own backend
        return create_engine(owner_url if "owner" in name else app_url, pool_size=1, max_overflow=0)

    setup = engine_of("owner")
    try:
        async with setup.begin() as conn:
            await conn.execute(payers.insert().values(
                tenant_id=tenant_id, payer_id="60054", name="Synthetic Health Plan", claim_types=["professional"],
                timely_filing_days=365, enrollment_required=False, replacement_claims_accepted=True,
                acknowledgement_follow_up_days=30, updated_at=datetime.now(timezone.utc)))
            payer = await find_payer(conn, tenant_id, "60054")
    finally:
        await setup.dispose()

    def read(name: str, set_config_statement: bool) -> _Variant:
        engine = engine_of(name)

        async def one() -> None:
            async with engine.begin() as conn:
                if set_config_statement:
                    await bind_practice(conn, tenant_id)
                await find_payer(conn, tenant_id, "60054")
        return _Variant(name, engine, one)

    def intake(name: str, statement) -> _Variant:  # noqa: ANN001
        engine = engine_of(name)

        async def one() -> None:
            claim_id = uuid.uuid4()
            row = {**template.claim_row, "id": claim_id, "encounter_id": f"ENC-{claim_id.hex[:12]}",
                   "patient_control_number": "R" + claim_id.hex[:16].upper()}
            params = claim_writes._new_claim_params(row, template.lines, template.scrub_row, template.history,
                                                    payer.updated_at)
            async with engine.connect() as conn:
                if not await fetch_many_alone(conn, statement, [params]):
                    raise RuntimeError(f"{name}: the claim was not written")
        return _Variant(name, engine, one)

    reads = [read(READ_VARIANTS[0], False), read(READ_VARIANTS[1], False), read(READ_VARIANTS[2], True),
             read(READ_VARIANTS[3], False)]
    if not with_intake:
        return reads
    await ready_code_sets()  # loaded in a thread, before the clock starts
    template = await prepare_claim(None, tenant_id, EncounterIn.model_validate(encounter()), payer)
    unbound = copy.copy(claim_writes._INSERT_NEW_CLAIM)
    unbound.sql = unbound_intake_statement(unbound.sql)
    return [*reads, intake(INTAKE_VARIANTS[0], unbound), intake(INTAKE_VARIANTS[1], claim_writes._INSERT_NEW_CLAIM),
            intake(INTAKE_VARIANTS[2], claim_writes._INSERT_NEW_CLAIM)]


async def measure(owner_url: str, app_url: str, transactions: int, rounds: int, *, with_intake: bool = True) -> dict:
    """Each variant's figures (`_Variant.figures_us`) by name, on the claims database at `owner_url`
    (as its owner) and `app_url` (as its app role); `with_intake=False`: the read variants only."""
    from openrcm_shared.security.context import acting_for

    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    variants = await _variants(owner_url, app_url, tenant_id, with_intake)
    # Only the BEGIN-binding variants run with the practice bound; the intake statement binds its own.
    bound = {READ_VARIANTS[1], READ_VARIANTS[3]}
    try:
        for variant in variants:  # warm: connections open, statements prepared, plans cached
            with acting_for(tenant_id if variant.name in bound else None):
                await variant.round(50)
            variant.per_round.clear()
        for _ in range(rounds):
            for variant in variants:
                with acting_for(tenant_id if variant.name in bound else None):
                    await variant.round(transactions)
    finally:
        for variant in variants:
            await variant.engine.dispose()
    return {variant.name: variant.figures_us() for variant in variants}


def _print_table(results: dict) -> None:
    columns = ("wall_us", "client_cpu_us", "server_cpu_us", "wall_min_us", "client_cpu_min_us", "server_cpu_min_us")
    print(f"\n{'variant':24}" + "".join(f"{c:>19}" for c in columns))
    for name, figures in results.items():
        print(f"{name:24}" + "".join(f"{figures[c]:19.1f}" for c in columns))
    for base, other in ((READ_VARIANTS[0], READ_VARIANTS[1]), (READ_VARIANTS[0], READ_VARIANTS[2]), BINDING,
                        POLICIES_ON_A_READ, (INTAKE_VARIANTS[0], INTAKE_VARIANTS[1]),
                        (INTAKE_VARIANTS[0], INTAKE_VARIANTS[2])):
        if base in results and other in results:
            print(f"{other} - {base}: {difference(results, base, other)}")


def difference(results: dict, base: str, other: str) -> dict[str, float]:
    """Variant `other` minus variant `base`, figure by figure (microseconds per transaction)."""
    return {k: round(results[other][k] - results[base][k], 1) for k in results[base]}


def run(transactions: int, rounds: int) -> int:
    from openrcm_devstack.paths import local_dir
    from openrcm_devstack.services import SERVICES, migrate_service
    from openrcm_devstack.stack import BENCH_PORTS, Stack, StackPorts

    offset = int(os.environ.get("OPENRCM_TEST_PORT_OFFSET", "0") or 0)
    ports = StackPorts(postgres=BENCH_PORTS.postgres + offset, kafka=BENCH_PORTS.kafka + offset,
                       kafka_controller=BENCH_PORTS.kafka_controller + offset)
    stack = Stack(local_dir() / "bench-row-security", ports, fresh=True)
    try:
        stack.start_postgres()
        migrate_service(next(s for s in SERVICES if s.name == "claims"), stack.database_url("claims"))
        results = asyncio.run(measure(stack.database_url("claims"), stack.app_database_url("claims"),
                                      transactions, rounds))
    finally:
        stack.stop_postgres()
    _print_table(results)
    print(json.dumps({"transactions_per_round": transactions, "rounds": rounds, "results": results}))
    return 0
