"""The A/R reports at scale: aging as of a past date and the KPI set for a year, over 1,000,000 claims.

    ./openrcm bench ar-reports                    1,000,000 claims, five runs of each report
    ./openrcm bench ar-reports --claims 100000    a quick run

Starts its own PostgreSQL (embedded, bench ports moved by OPENRCM_TEST_PORT_OFFSET, .local/bench-ar)
and migrates the collections database, then seeds one practice with COPY: every claim's facts, its
receivable movements as the consumer would have written them (billed; for most, a payer's decision
with payment, contractual adjustment and patient share; some denied and held open; secondaries with
the primary's share taken off) and the patient ledger (patient shares, payments, some bad debt), over
two years of service dates, then the reports' summaries from the movements (`rebuild_summaries`)
and the month-end snapshots (`month_end.close_practice`, every month through November 2026).
The reports are then run as the service runs them: the app role, under row-level security, acting
for the practice, in one REPEATABLE READ snapshot. The aging runs as of a month end (2026-06-30: one
snapshot) and as of the day before (2026-06-29: May's snapshot plus 29 days of movements and ledger
entries, the most a month adds); by patient, the first page and the next (100 patients, both sorts).
Medians reported, with PostgreSQL's CPU, this process's CPU and the load average; no assertions.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import statistics
import time
import uuid
from pathlib import Path
from datetime import date, datetime, time as clock, timedelta, timezone

TENANT = "bench-practice"
PAYERS = [("60054", "CI"), ("87726", "CI"), ("00431", "MB"), ("SKCO0", "MC"), ("61101", "BL"), ("39026", "CI")]
NPIS = ["1234567893", "1992999998", "1003000126", "1437139840", "1588667638"]
FIRST_SERVICE = date(2025, 1, 1)
SERVICE_DAYS = 700
AS_OF = date(2026, 6, 30)
# The day before a month end: the most movements after a month-end snapshot.
AS_OF_MID_MONTH = date(2026, 6, 29)
# The month-end closer runs as if on this day: every month through November 2026 closed.
CLOSED_ON = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
PATIENT_PAGE = 100
KPI_PERIOD = (date(2025, 7, 1), date(2026, 6, 30))
CHUNK = 100_000


def _cents(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def _at(day: date) -> str:
    return datetime.combine(day, clock(12), tzinfo=timezone.utc).isoformat()


class _Seeder:
    """Rows in COPY text format, one buffer per table, streamed in chunks."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.claims: list[str] = []
        self.movements: list[str] = []
        self.ledger: list[str] = []

    def claim(self, index: int) -> None:
        r = self.random
        claim_id, patient = str(uuid.UUID(int=r.getrandbits(128))), f"pat-{r.randrange(400_000):06d}"
        payer, financial_class = PAYERS[r.randrange(len(PAYERS))]
        npi = NPIS[r.randrange(len(NPIS))]
        service = FIRST_SERVICE + timedelta(days=r.randrange(SERVICE_DAYS))
        billed_on = service + timedelta(days=r.randint(1, 5))
        charge = r.randint(8_000, 250_000)
        later = "S" if index % 10 == 9 else "P"
        facts = (payer, patient, service.isoformat(), billed_on.isoformat(), financial_class, npi)
        self._movement(claim_id, "billed", billed_on, charge, billed=charge, facts=facts)
        if later == "S":  # a secondary: the primary left 20 % to the patient
            self._movement(claim_id, "prior_payer", billed_on, -(charge * 8 // 10), prior=charge * 8 // 10, facts=facts)
            charge = charge - charge * 8 // 10
        outcome, adjudicated_on = "open", billed_on + timedelta(days=r.randint(10, 90))
        roll = r.random()
        if roll < 0.70 and adjudicated_on <= date(2026, 11, 30):
            paid = charge * r.randint(50, 80) // 100
            patient_share = charge * r.randint(0, 15) // 100
            contractual = charge - paid - patient_share
            self._movement(claim_id, "adjudicated", adjudicated_on, -charge, paid=paid, contractual=contractual,
                           transfer=patient_share, facts=facts)
            outcome = "paid"
            if patient_share:
                self._ledger(patient, claim_id, "patient_responsibility", patient_share, adjudicated_on)
                if r.random() < 0.5:
                    self._ledger(patient, claim_id, "payment", -patient_share, adjudicated_on + timedelta(days=30))
                elif r.random() < 0.1:
                    self._ledger(patient, claim_id, "bad_debt", -patient_share, adjudicated_on + timedelta(days=150))
        elif roll < 0.78 and adjudicated_on <= date(2026, 11, 30):
            self._movement(claim_id, "adjudicated", adjudicated_on, -charge, contractual=charge, facts=facts)
            self._movement(claim_id, "denial_held_open", adjudicated_on, charge, contractual=-charge, denied=charge,
                           facts=facts)
            outcome = "denied"
        submissions, rejections = (2, 1) if r.random() < 0.06 else (1, 0)
        self.claims.append("\t".join([
            TENANT, claim_id, patient, payer, later, service.isoformat(), billed_on.isoformat(), npi, financial_class,
            _cents(charge), str(submissions), str(rejections), "0", outcome if outcome != "open" else "submitted",
            adjudicated_on.isoformat() if outcome != "open" else "\\N", outcome if outcome != "open" else "\\N",
            _at(billed_on)]))

    def _movement(self, claim_id: str, kind: str, on: date, amount: int, *, billed=0, paid=0, contractual=0,
                  transfer=0, prior=0, denied=0, facts) -> None:
        self.movements.append("\t".join([
            TENANT, claim_id, kind, on.isoformat(), _at(on), _cents_signed(amount), _cents_signed(billed),
            _cents_signed(paid), _cents_signed(contractual), "0.00", _cents_signed(transfer), _cents_signed(prior),
            _cents_signed(denied), str(uuid.UUID(int=self.random.getrandbits(128))), *facts]))

    def _ledger(self, patient: str, claim_id: str, kind: str, amount: int, on: date) -> None:
        self.ledger.append("\t".join([TENANT, patient, claim_id, kind, _cents_signed(amount), "0.00",
                                      str(uuid.UUID(int=self.random.getrandbits(128))), _at(on)]))


def _cents_signed(value: int) -> str:
    return ("-" if value < 0 else "") + _cents(abs(value))


CLAIM_COLUMNS = ["tenant_id", "claim_id", "patient_id", "payer_id", "payer_responsibility", "service_date",
                 "first_billed_on", "billing_provider_npi", "financial_class", "billed_amount", "submission_count",
                 "rejection_count", "hold_count", "status", "first_adjudicated_on", "first_outcome", "updated_at"]
MOVEMENT_COLUMNS = ["tenant_id", "claim_id", "movement_kind", "occurred_on", "occurred_at", "amount", "billed", "paid",
                    "contractual", "other_adjustment", "patient_transfer", "prior_payer", "denied", "source_event_id",
                    "payer_id", "patient_id", "service_date", "first_billed_on", "financial_class", "provider_npi"]
LEDGER_COLUMNS = ["tenant_id", "patient_id", "claim_id", "entry_kind", "amount", "balance_after", "source_event_id",
                  "posted_at"]


async def _copy(connection, table: str, columns: list[str], rows: list[str]) -> None:
    for start in range(0, len(rows), CHUNK):
        body = ("\n".join(rows[start:start + CHUNK]) + "\n").encode()
        await connection.copy_to_table(table, source=io.BytesIO(body), columns=columns, format="text")


async def seed(owner_url: str, claims: int) -> dict:
    import asyncpg

    started = time.perf_counter()
    seeder = _Seeder(seed=16)
    for index in range(claims):
        seeder.claim(index)
    built = time.perf_counter() - started
    connection = await asyncpg.connect(owner_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await _copy(connection, "receivable_claims", CLAIM_COLUMNS, seeder.claims)
        await _copy(connection, "receivable_movements", MOVEMENT_COLUMNS, seeder.movements)
        await _copy(connection, "ledger_entries", LEDGER_COLUMNS, seeder.ledger)
    finally:
        await connection.close()
    summarized = time.perf_counter()
    await _summarize(owner_url)
    summarized = time.perf_counter() - summarized
    closed = time.perf_counter()
    months = await _close_months(owner_url)
    closed = time.perf_counter() - closed
    return {"claims": claims, "movements": len(seeder.movements), "ledger_entries": len(seeder.ledger),
            "rows_built_s": round(built, 1), "summaries_s": round(summarized, 1),
            "months_closed": months, "month_end_close_s": round(closed, 1),
            "seeded_s": round(time.perf_counter() - started, 1)}


async def _close_months(owner_url: str) -> int:
    """The month-end closer's work for the practice, every month through November 2026 (then ANALYZE)."""
    from openrcm_collections.receivables.month_end import close_practice
    from openrcm_shared.db import create_engine

    engine = create_engine(owner_url, pool_size=1)
    try:
        months = await close_practice(engine, TENANT, CLOSED_ON)
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE receivable_month_ends")
            await conn.exec_driver_sql("VACUUM ANALYZE receivable_closed_months")
    finally:
        await engine.dispose()
    return months


async def _summarize(owner_url: str) -> None:
    """The reports' summaries from the movements, as the consumer keeps them (then ANALYZE)."""
    from openrcm_collections.receivables.summaries import rebuild_summaries
    from openrcm_shared.db import create_engine

    engine = create_engine(owner_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await rebuild_summaries(conn)
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("receivable_claims", "receivable_movements", "receivable_rollup", "receivable_daily_totals",
                          "ledger_entries"):
                await conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    finally:
        await engine.dispose()


def _server_processes(postmaster: int) -> list[int]:
    """The PostgreSQL server's processes: the postmaster's children (backends, parallel workers...)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    return children


def _server_cpu(postmaster: int) -> float:
    """CPU seconds of the whole server so far: its live processes' (backends, parallel workers...)
    plus what the postmaster reaped of those that exited (cutime, cstime), so a parallel worker's
    CPU counts whether it is still running or not."""
    from bench.row_security import TICKS_PER_SECOND, _backend_cpu

    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(fields[n]) for n in (11, 12, 13, 14)) / TICKS_PER_SECOND
    for pid in _server_processes(postmaster):
        try:
            total += _backend_cpu(pid)
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile: counted by the postmaster once reaped
    return total


async def _timed(engine, work, runs: int, name: str = "") -> dict:
    """`work` timed `runs` times (see `_timed_runs`); a failure (e.g. the 30 s command time-out on a
    loaded machine) is recorded as the figure, and each figure is printed as soon as it is taken."""
    try:
        figure = await _timed_runs(engine, work, runs)
    except Exception as exc:  # noqa: BLE001 - a figure that could not be taken is reported as such
        figure = {"error": f"{type(exc).__name__}: {exc}"}
    print(f"{name}: {json.dumps(figure, default=str)}", flush=True)
    return figure


async def _timed_runs(engine, work, runs: int) -> dict:
    from openrcm_shared.db import snapshot
    from openrcm_shared.security.context import acting_for

    from bench.row_security import _backend_cpu

    walls, cpus, server_cpus, client_cpus, loads = [], [], [], [], []
    result = None
    for _ in range(runs):
        with acting_for(TENANT):
            async with snapshot(engine) as conn:
                pid = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
                postmaster = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                server_before = _server_cpu(postmaster)
                started, client_before = time.perf_counter(), time.process_time()
                cpu_before = _backend_cpu(pid)
                result = await work(conn)
                cpus.append(_backend_cpu(pid) - cpu_before)
                walls.append(time.perf_counter() - started)
                client_cpus.append(time.process_time() - client_before)
                server_cpus.append(_server_cpu(postmaster) - server_before)
            loads.append(os.getloadavg()[0])
    # PostgreSQL's CPU for the report: what its wall time would be on an idle core (the machine
    # these figures come from is shared; wall times there include waiting for a core). The
    # client's CPU is this process's (the service's share: building rows, Decimal sums).
    return {"median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3),
            "max_s": round(max(walls), 3), "postgres_cpu_median_s": round(statistics.median(cpus), 3),
            "postgres_server_cpu_median_s": round(statistics.median(server_cpus), 3),
            "client_cpu_median_s": round(statistics.median(client_cpus), 3),
            "load_1m": [round(min(loads), 1), round(max(loads), 1)], "result": result}


async def measure(app_url: str, runs: int) -> dict:
    from openrcm_collections.receivables.aging import AgingBasis, AgingGroup, aging, totals
    from openrcm_collections.receivables.kpis import kpis, monthly_trend, period_figures
    from openrcm_shared.db import create_engine

    engine = create_engine(app_url, pool_size=1)
    figures: dict = {}
    try:
        for as_of in (AS_OF_MID_MONTH, AS_OF):
            for basis in AgingBasis:
                for group_by in (AgingGroup.PAYER, AgingGroup.FINANCIAL_CLASS, AgingGroup.PROVIDER):
                    async def work(conn, as_of=as_of, basis=basis, group_by=group_by):
                        rows = await aging(conn, TENANT, as_of, basis, group_by)
                        return {"groups": len(rows), "total": str(totals(rows)["total"])}
                    name = f"aging {as_of} {basis.value} by {group_by.value}"
                    figures[name] = await _timed(engine, work, runs, name)

        async def kpi_set(conn):
            period = await period_figures(conn, TENANT, *KPI_PERIOD)
            await monthly_trend(conn, TENANT, *KPI_PERIOD)
            return {k.key: str(k.value) for k in kpis(period)}
        figures["kpis for a year (with the monthly trend)"] = await _timed(engine, kpi_set, runs, "kpis")
        # Last: on a loaded machine a page can take tens of seconds (three runs each).
        figures.update(await _measure_patient_pages(engine, min(runs, 3)))
    finally:
        await engine.dispose()
    return figures


async def _measure_patient_pages(engine, runs: int) -> dict:
    """The aging by patient as the API pages it: the first page, then the page after it."""
    from openrcm_collections.receivables.aging import AgingBasis, PatientSort, patient_page

    figures = {}
    for as_of in (AS_OF_MID_MONTH, AS_OF):
        for sort in PatientSort:
            cursor = {}

            async def first(conn, as_of=as_of, sort=sort, cursor=cursor):
                page = await patient_page(conn, TENANT, as_of, AgingBasis.SERVICE_DATE, sort, PATIENT_PAGE)
                cursor["next"] = page.next_cursor
                return {"rows": len(page.rows), "first": page.rows[0].group if page.rows else None}

            async def second(conn, as_of=as_of, sort=sort, cursor=cursor):
                page = await patient_page(conn, TENANT, as_of, AgingBasis.SERVICE_DATE, sort, PATIENT_PAGE,
                                          cursor["next"])
                return {"rows": len(page.rows), "first": page.rows[0].group if page.rows else None}

            name = f"aging {as_of} by patient, {sort.value}"
            figures[f"{name}, first page"] = await _timed(engine, first, runs, f"{name}, first page")
            if cursor.get("next") is not None:
                figures[f"{name}, next page"] = await _timed(engine, second, runs, f"{name}, next page")
    return figures


def run(claims: int, runs: int) -> int:
    from bench.machine import describe_machine
    from openrcm_devstack.paths import local_dir
    from openrcm_devstack.services import SERVICES, migrate_service
    from openrcm_devstack.stack import BENCH_PORTS, Stack, StackPorts

    offset = int(os.environ.get("OPENRCM_TEST_PORT_OFFSET", "0") or 0)
    ports = StackPorts(postgres=BENCH_PORTS.postgres + offset, kafka=BENCH_PORTS.kafka + offset,
                       kafka_controller=BENCH_PORTS.kafka_controller + offset)
    stack = Stack(local_dir() / "bench-ar", ports, fresh=True)
    try:
        stack.start_postgres()
        migrate_service(next(s for s in SERVICES if s.name == "collections"), stack.database_url("collections"))
        seeded = asyncio.run(seed(stack.database_url("collections"), claims))
        print(f"seeded: {seeded}", flush=True)
        figures = asyncio.run(measure(stack.app_database_url("collections"), runs))
    finally:
        stack.stop_postgres()
    print(f"\n{'report':64}{'median s':>10}{'min s':>10}{'max s':>10}{'pg cpu s':>10}{'pg all s':>10}"
          f"{'py cpu s':>10}  load")
    for name, timing in figures.items():
        if "error" in timing:
            print(f"{name:64}  {timing['error']}")
            continue
        print(f"{name:64}{timing['median_s']:10.3f}{timing['min_s']:10.3f}{timing['max_s']:10.3f}"
              f"{timing['postgres_cpu_median_s']:10.3f}{timing['postgres_server_cpu_median_s']:10.3f}"
              f"{timing['client_cpu_median_s']:10.3f}  "
              f"{timing['load_1m'][0]}-{timing['load_1m'][1]}")
    print(json.dumps({"machine": describe_machine(), "as_of": AS_OF.isoformat(),
                      "kpi_period": [d.isoformat() for d in KPI_PERIOD], "seeded": seeded, "figures": figures},
                     default=str))
    return 0
