"""What access control costs a claim at intake, at one commit: `./openrcm bench security-share`.

    ./openrcm bench security-share                          2 rounds: RLS on, off, on, off; 60 s each at 300/s
    ./openrcm bench security-share --rate 100 --duration 15 --rounds 1     a short run while developing

Issue 13's target: token verification and row-level security add at most 10 % CPU per claim to
intake at 300 claims/s. An A/B against the code before access control changes unrelated things
too, so this settles it at one commit, from three parts measured on one stack (the intake
benchmark's: JSON encounters from vegeta, open loop):

1. Python side, by attribution. During every run each service process is sampled by py-spy
   (`--nonblocking`, so the services are not paused), and each sample's stack is attributed to
   the innermost security code on it (`SECURITY_CODE`): token verification, authorization
   (scope and practice checks), the rate limit, and binding the practice (contexts, BEGIN's
   `SET LOCAL`, a consumer switching practices). The samples' share of a process, times the
   process's CPU over the run (/proc), is its security CPU per claim. The audit trail (its own
   benchmark, `./openrcm bench audit`) and the inbound guard (body bounds, JSON checks:
   `python -m bench.inbound`) are not counted: neither is token verification or RLS.
2. PostgreSQL side, by a database-side A/B. Arms alternate: RLS as migrated ("on"), and a
   MEASUREMENT ARM ("off") in which every table of every service database has row-level security
   disabled and not forced (`ALTER TABLE ... NO FORCE / DISABLE ROW LEVEL SECURITY` as the
   owner, before the run's load; put back exactly as it was for the next "on" arm). No deployment
   can use that state: it exists only inside this benchmark's own stack, which is discarded at the
   end. The services still bind the practice in both arms, so the difference in PostgreSQL's CPU
   per claim (postmaster, backends and auxiliary processes, bench.cpu) is the policies' evaluation.
3. The binding's own cost: transactions per claim (pg_stat_database.xact_commit + xact_rollback
   over the run's window, every database, less the idle stack's rate over as long, divided by the
   claims) times what binding costs one
   transaction (`bench.row_security`: the superuser's read with and without the practice set in
   its BEGIN, measured on this stack's claims database before the runs). Every transaction is
   counted as if it bound a practice (the relay's and the batcher's do not): an upper bound.

Total = Python side + binding (client: the larger of the sampled figure and the per-transaction
one; server) + policies (taken as 0 if the A/B measures less), as a share of the pipeline's CPU
per claim with RLS on (every stack component but the clearinghouse simulator and the load
generator, each above its CPU at rest). The target is met when that total, added to the pipeline
without it, is at most 10 %.

On a shared machine every figure carries the other load's noise: the output gives the load
average and the CPU busy outside the stack per run; the A/B's difference is given per round, so
its spread is visible. Figures only: nothing here asserts.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

TARGET_ADDED_PERCENT = 10.0
ARMS = ("on", "off")
# Components of the stack that are not the pipeline's: the simulated external clearinghouse and
# the load generator (vegeta, the samplers); `services` is the intake benchmark's subtotal.
NOT_PIPELINE = frozenset({"clearinghouse", "load generator", "services"})

CATEGORIES = ("token verification", "authorization", "rate limit", "practice binding")


# --- what counts as security code -----------------------------------------------------------------

@dataclass(frozen=True)
class CodeRegion:
    """Lines of one source file whose samples are security work, with everything they call, except
    at the `handover_lines`, where a wrapper hands the request or statement to the work it wraps."""

    category: str
    file: str  # the path from the package on, e.g. openrcm_shared/security/tokens.py
    first_line: int
    last_line: int
    label: str
    handover_lines: frozenset[int] = frozenset()


def _package_path(filename: str) -> str:
    """The path from the top package on (`.../shared/src/openrcm_shared/db.py` -> `openrcm_shared/db.py`)."""
    return re.sub(r"^.*/src/", "", filename)


def _region(category: str, code, *, handover: tuple[str, ...] = ()) -> CodeRegion:
    """A module (all of it) or a function, by its source; `handover`: text of the lines where it
    hands over to the work it wraps."""
    lines, start = inspect.getsourcelines(code)
    start = max(start, 1)  # a module's source starts at line 0 for inspect
    handover_lines = frozenset(start + i for i, text in enumerate(lines) if any(h in text for h in handover))
    if handover and not handover_lines:
        raise ValueError(f"{code!r}: no line hands over with {handover!r}; the code changed")
    label = getattr(code, "__qualname__", None) or code.__name__
    return CodeRegion(category, _package_path(inspect.getsourcefile(code)), start, start + len(lines) - 1, label,
                      handover_lines)


def security_code() -> list[CodeRegion]:
    """The code whose samples count as token verification and row-level security's Python side.

    * token verification: all of `security.tokens` (the verified-token cache, RS256 on a token seen
      for the first time, the JWKS cache);
    * authorization: all of `security.authorization` (the bearer header, scope check, practice
      selection, binding the caller), but for the operations gate's hand-over to the app it wraps;
    * rate limit: all of `http.rate_limits` (the per-client token bucket the authorization takes from);
    * practice binding (client side): all of `security.context` (the caller and the practice in
      context variables), `db.begin_for_practice` and `db.practice_literal` (the `SET LOCAL` added
      to each BEGIN), `db.PracticeBoundConnection.execute` but for its hand-over to asyncpg,
      `db.bind_practice` (a statement switching practices) and the consumer's
      `_SharedTransaction.act_for` (a shared run's switch between practices).
    """
    from openrcm_shared import db
    from openrcm_shared.http import rate_limits
    from openrcm_shared.messaging.consumer import _SharedTransaction
    from openrcm_shared.security import authorization, context, tokens

    return [
        _region("token verification", tokens),
        _region("authorization", authorization, handover=("await self.app(scope, receive, send)",)),
        _region("rate limit", rate_limits),
        _region("practice binding", context),
        _region("practice binding", db.begin_for_practice),
        _region("practice binding", db.practice_literal),
        _region("practice binding", db.PracticeBoundConnection.execute, handover=("await super().execute(",)),
        _region("practice binding", db.bind_practice),
        _region("practice binding", _SharedTransaction.act_for),
    ]


_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


class Attribution:
    """Samples of py-spy's raw (collapsed) output attributed to `CodeRegion`s: walking each stack
    from its innermost frame out, the first frame inside a region decides (its category), and a
    region's hand-over line ends the walk (what is handed over is not security work)."""

    def __init__(self, regions: list[CodeRegion]) -> None:
        self.regions = regions
        # frame text -> (region, at a hand-over line, "function (file)")
        self._frames: dict[str, tuple[CodeRegion | None, bool, str]] = {}

    def _frame(self, text: str) -> tuple[CodeRegion | None, bool, str]:
        known = self._frames.get(text)
        if known is None:
            known = (None, False, "")
            match = _FRAME.match(text)
            if match:
                file, line = match["file"], int(match["line"])
                for region in self.regions:  # regions do not overlap
                    if file.endswith(region.file) and region.first_line <= line <= region.last_line:
                        known = (region, line in region.handover_lines, f"{match['function']} ({region.file})")
                        break
            self._frames[text] = known
        return known

    def classify(self, frames: list[str]) -> tuple[CodeRegion, str] | None:
        """The region a sample's stack (outermost frame first) is attributed to, with the function
        of its frame there; None when it is not security work."""
        for text in reversed(frames):
            region, handover, function = self._frame(text)
            if region is not None:
                return None if handover else (region, function)
        return None

    def read(self, raw: str) -> dict:
        """{"samples": n, "by_category": {category: n}, "by_code": {"category: label": n}}."""
        samples, by_category, by_code = 0, Counter(), Counter()
        for line in raw.splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            samples += int(count)
            found = self.classify(stack.split(";"))
            if found is not None:
                region, function = found
                by_category[region.category] += int(count)
                by_code[f"{region.category}: {function}"] += int(count)
        return {"samples": samples, "by_category": dict(by_category), "by_code": dict(by_code.most_common())}


# --- observers of a run's window (bench.intake.WindowObserver) -------------------------------------

def find_py_spy() -> Path | None:
    """py-spy from the project's environment (a dev dependency), else from PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return beside
    from shutil import which

    found = which("py-spy")
    return Path(found) if found else None


def _process_cpu_seconds(pid: int) -> float:
    from bench.cpu import TICKS_PER_SECOND

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


class PySpySampler:
    """py-spy sampling each named process over a run's window, its samples attributed
    (`Attribution`). py-spy runs as a child of this process, so the intake benchmark's CPU meter
    counts it with the load generator, not with the services.

    Only samples of a thread holding the GIL are kept (`--gil`): py-spy otherwise counts a thread
    as busy whenever the kernel has it runnable, and on a loaded machine an event loop woken from
    its poll waits several times longer for a core than it then runs, which filled about nine
    samples in ten with the bare event loop (measured: samples covered ten times the process's
    CPU time). A thread waiting for a core does not hold the GIL yet; one preempted while holding
    it is preempted anywhere in its work, so the kept samples stay in proportion to CPU time."""

    name = "sampling"

    def __init__(self, binary: Path, processes: dict[str, int], folder: Path, *, rate: int, limit_seconds: float,
                 attribution: Attribution) -> None:
        self.binary, self.processes, self.folder = binary, processes, folder
        self.rate, self.limit_seconds, self.attribution = rate, limit_seconds, attribution
        self._running: dict[str, tuple[subprocess.Popen, Path]] = {}
        folder.mkdir(parents=True, exist_ok=True)

    async def window_started(self, label: str) -> None:
        for name, pid in self.processes.items():
            output = self.folder / f"{label}-{name}.txt"
            log = open(self.folder / f"{label}-{name}.log", "wb")  # noqa: SIM115 - the child holds it
            argv = [str(self.binary), "record", "--pid", str(pid), "--rate", str(self.rate), "--format", "raw",
                    "--output", str(output), "--nonblocking", "--gil", "--duration", str(int(self.limit_seconds))]
            self._running[name] = (subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True), output)
            log.close()
        await asyncio.sleep(1.0)  # attached before the window's first CPU sample

    async def window_ended(self, label: str) -> dict:
        figures = {"sampler_cpu_seconds": round(sum(_process_cpu_seconds(p.pid) for p, _ in self._running.values()), 2),
                   "processes": {}}
        for process, _ in self._running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # py-spy writes its output and exits
        for name, (process, output) in self._running.items():
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if output.exists():
                figures["processes"][name] = self.attribution.read(output.read_text())
            else:
                figures["processes"][name] = {"error": f"py-spy wrote nothing (exit {process.returncode}; see "
                                                       f"{output.with_suffix('.log').name})"}
        self._running.clear()
        return figures

    def close(self) -> None:
        """Stop any sampler still running (an interrupted run)."""
        for process, _ in self._running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        self._running.clear()


async def _transactions(database_url: str) -> dict[str, int]:
    """Transactions ended per service database since PostgreSQL's statistics began."""
    from bench.downstream import _connect

    conn = await _connect(database_url)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = await conn.fetch("SELECT datname, xact_commit + xact_rollback AS ended FROM pg_stat_database "
                                "WHERE datname LIKE 'openrcm_%'")
    finally:
        await conn.close()
    return {row["datname"]: row["ended"] for row in rows}


async def transactions_at_rest(database_url: str, seconds: float = 12.0) -> float:
    """Transactions per second of the idle stack (pollers, the relay's wake-ups, leases), every
    database: taken off a run's count, as the intake benchmark takes the CPU at rest off its CPU.
    Longer than the statistics' flush interval, so the counts have caught up."""
    before = await _transactions(database_url)
    started = time.monotonic()
    await asyncio.sleep(seconds)
    after = await _transactions(database_url)
    return sum(count - before.get(name, 0) for name, count in after.items()) / (time.monotonic() - started)


class TransactionCounter:
    """Transactions per database over a run's window (pg_stat_database). Backends report their
    counts at most once a second while busy (PostgreSQL's cumulative statistics), so the counts
    lag the window's edges by about that much."""

    name = "transactions"

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._before: dict[str, int] = {}

    async def window_started(self, label: str) -> None:
        self._before = await _transactions(self.database_url)

    async def window_ended(self, label: str) -> dict:
        after = await _transactions(self.database_url)
        return {name: count - self._before.get(name, 0) for name, count in sorted(after.items())}


# --- the arms: row-level security as migrated, or off (a measurement arm) --------------------------

_RLS_TABLES = """
SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND (c.relrowsecurity OR c.relforcerowsecurity)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""


@dataclass
class RowSecurityState:
    """Each service database's tables under row-level security as migrated: (table, enabled, forced)."""

    tables: dict[str, list[tuple[str, bool, bool]]] = field(default_factory=dict)  # database URL -> tables

    @classmethod
    async def read(cls, database_urls: list[str]) -> "RowSecurityState":
        from bench.downstream import _connect

        state = cls()
        for url in database_urls:
            conn = await _connect(url)
            try:
                state.tables[url] = [(r["name"], r["enabled"], r["forced"]) for r in await conn.fetch(_RLS_TABLES)]
            finally:
                await conn.close()
        return state

    @property
    def count(self) -> int:
        return sum(len(tables) for tables in self.tables.values())

    async def apply(self, arm: str) -> int:
        """Put every table as migrated ("on") or with row-level security disabled and not forced
        ("off", the measurement arm), as each database's owner; returns the tables whose row-level
        security is enabled afterwards, read back from the catalogue."""
        import asyncpg

        from bench.downstream import _connect

        enabled_after = 0
        for url, tables in self.tables.items():
            conn = await _connect(url)
            try:
                for attempt in range(3):  # ALTER TABLE waits for transactions using the table to end
                    try:
                        async with conn.transaction():
                            await conn.execute("SET LOCAL lock_timeout = '5s'")
                            for statement in _row_security_statements(tables, arm):
                                await conn.execute(statement)
                        break
                    except asyncpg.LockNotAvailableError:
                        if attempt == 2:
                            raise
                enabled_after += sum(r["enabled"] for r in await conn.fetch(_RLS_TABLES))
            finally:
                await conn.close()
        return enabled_after


def _row_security_statements(tables: list[tuple[str, bool, bool]], arm: str) -> list[str]:
    """ALTER TABLEs putting `tables` as migrated ("on") or with RLS disabled and not forced ("off")."""
    statements = []
    for table, enabled, forced in tables:
        if arm == "off":
            statements += [f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
                           f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"]
        else:
            statements += [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"] if enabled else []
            statements += [f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"] if forced else []
    return statements


# --- the sequence ----------------------------------------------------------------------------------

@dataclass
class ShareOptions:
    rate: float = 300.0
    duration: float = 60.0
    rounds: int = 2
    sampling_rate: int = 200  # py-spy samples per second per process; 0: no sampling
    clearinghouse_validator: str = "envelope"
    generator: str = "vegeta"
    warmup: float = 3.0
    binding_transactions: int = 300
    binding_rounds: int = 10

    def estimated_minutes(self) -> float:
        """Stack start, warm-up and the binding measurement (~2 min), then each run with its
        preparation and drain (~35 s beyond its duration)."""
        return round(2 + self.rounds * len(ARMS) * (self.duration + 35) / 60, 1)


async def _binding_cost(stack, options: ShareOptions) -> dict:
    """What binding the practice costs one transaction (client and server, µs), and what the
    policies add to a read, from bench.row_security's variants on this stack's claims database."""
    from bench import row_security

    results = await row_security.measure(stack.database_url("claims"), stack.app_database_url("claims"),
                                         options.binding_transactions, options.binding_rounds, with_intake=False)
    return {"variants_us": results,
            "binding_us": row_security.difference(results, *row_security.BINDING),
            "policies_on_a_read_us": row_security.difference(results, *row_security.POLICIES_ON_A_READ)}


async def _sequence(ctx, options: ShareOptions, results: dict, observers: list) -> None:
    from bench.intake import RunSpec, measure, requests_for, warm_up

    print("Warm-up ...", flush=True)
    results["warmup"] = await warm_up(ctx)
    state = await RowSecurityState.read([ctx.stack.database_url(name) for name in _service_names()])
    results["row_security_tables"] = state.count
    print(f"Row-level security as migrated: {state.count} tables in {len(state.tables)} databases.", flush=True)
    print(f"Binding's cost per transaction (bench.row_security, {options.binding_rounds} rounds of "
          f"{options.binding_transactions}) ...", flush=True)
    results["binding"] = await _binding_cost(ctx.stack, options)
    print(f"  binding: {results['binding']['binding_us']}", flush=True)
    results["transactions_at_rest_per_second"] = await transactions_at_rest(ctx.stack.database_url("claims"))
    ctx.observers = observers
    for round_number in range(1, options.rounds + 1):
        for arm in ARMS:
            enabled = await state.apply(arm)
            if arm == "off":
                print(f"MEASUREMENT ARM, round {round_number}: row-level security DISABLED on all {state.count} "
                      f"tables (now enabled on {enabled}); a state no deployment can use, for this run only",
                      flush=True)
            else:
                print(f"Round {round_number}: row-level security as migrated (enabled on {enabled} tables)",
                      flush=True)
            label = f"rls-{arm}-{round_number}"
            run = await measure(ctx, RunSpec(label, "open", options.duration,
                                             requests_for(ctx.options, "json", options.rate, options.duration),
                                             rate=options.rate, form="json"))
            run.update(arm=arm, round=round_number, tables_with_row_security=enabled)
            results["runs"].append(run)
            await asyncio.sleep(ctx.options.pause)
    await state.apply("on")


def _service_names() -> list[str]:
    from openrcm_devstack.services import SERVICES

    return [spec.name for spec in SERVICES]


def run(options: ShareOptions, argv: list[str]) -> int:
    from openrcm_devstack.paths import local_dir, repo_root

    from bench.cpu import CpuMeter
    from bench.intake import Context, IntakeOptions, _component_pids, run_on_fresh_stack, vegeta_for
    from bench.machine import describe_code, describe_machine, load_average
    from bench.vegeta import VegetaMissing

    state_dir = local_dir() / "bench-security-share"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    intake_options = IntakeOptions(rates=[options.rate], duration=options.duration, forms=["json"],
                                   closed_loop=False, warmup=options.warmup, generator=options.generator,
                                   clearinghouse_validator=options.clearinghouse_validator)
    results: dict = {"benchmark": "security-share", "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "command": "python -m bench " + " ".join(argv), "options": asdict(options),
                     "machine": describe_machine(), "code": describe_code(repo_root()), "runs": []}
    try:
        vegeta = vegeta_for(options.generator)
    except VegetaMissing as missing:
        print(missing, file=sys.stderr)
        return 2
    py_spy = find_py_spy() if options.sampling_rate > 0 else None
    if options.sampling_rate > 0 and py_spy is None:
        print("py-spy not found (a dev dependency: ./openrcm bench syncs it); or pass --sampling-rate 0",
              file=sys.stderr)
        return 2
    print(f"OpenRCM security-share benchmark: {options.rounds} round(s) of RLS on / off (measurement arm), "
          f"{options.duration:g} s each at {options.rate:g} claims/s (JSON), clearinghouse validator "
          f"{options.clearinghouse_validator}; about {options.estimated_minutes():g} minutes on a quiet machine.\n"
          f"Load average at start: {' '.join(map(str, load_average()))}", flush=True)

    async def sequence(stack) -> None:  # noqa: ANN001
        ctx = Context(stack, intake_options, CpuMeter(_component_pids(stack)), vegeta)
        observers: list = [TransactionCounter(stack.database_url("claims"))]
        sampler = None
        if py_spy is not None:
            sampler = PySpySampler(py_spy, {name: s.process.pid for name, s in stack.services.items()},
                                   state_dir / "samples", rate=options.sampling_rate,
                                   limit_seconds=options.duration + 60, attribution=Attribution(security_code()))
            observers.append(sampler)
        try:
            await _sequence(ctx, options, results, observers)
        finally:
            if sampler is not None:
                sampler.close()

    exit_code = run_on_fresh_stack(state_dir, options.clearinghouse_validator, results, sequence)
    if results["runs"]:
        results["summary"] = summarize(results)
    path = state_dir / f"results-security-share-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(render(results))
    print(f"\nResults: {path}")
    return exit_code


# --- putting it together ---------------------------------------------------------------------------

def pipeline_ms_per_claim(run: dict) -> float:
    """CPU ms per claim of the pipeline: every component above its CPU at rest, but the simulated
    clearinghouse and the load generator."""
    return sum(v for k, v in run["cpu_ms_per_claim"].items() if k not in NOT_PIPELINE)


def python_security(run: dict) -> dict:
    """Per sampled process: the security samples' share, and that share of the process's CPU over
    the window per claim (ms), by category."""
    cpu, claims = run["cpu"], run["created"]
    per_process = {}
    for name, sampled in run.get("observed", {}).get("sampling", {}).get("processes", {}).items():
        if not sampled.get("samples") or not claims:
            continue
        cpu_ms = cpu["percent_of_one_core"].get(name, 0.0) / 100 * cpu["window_seconds"] * 1000
        per_process[name] = {
            "samples": sampled["samples"],
            "cpu_seconds": cpu_ms / 1000,
            "share_percent": {c: 100 * sampled["by_category"].get(c, 0) / sampled["samples"] for c in CATEGORIES},
            "ms_per_claim": {c: sampled["by_category"].get(c, 0) / sampled["samples"] * cpu_ms / claims
                             for c in CATEGORIES},
        }
    return per_process


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def per_transaction_binding_us(difference: dict) -> dict[str, float]:
    """Binding's client and server CPU per transaction (µs) from bench.row_security's difference
    of variants: the larger of the median and the lowest round's difference, and never below 0.
    Both are differences of two noisy figures, and on a loaded machine either can come out
    negative; the larger errs towards more security cost, not less."""
    return {side: max(0.0, difference.get(f"{side}_cpu_us", 0.0), difference.get(f"{side}_cpu_min_us", 0.0))
            for side in ("client", "server")}


def summarize(results: dict) -> dict:
    runs = [r for r in results["runs"] if r.get("created")]
    by_arm = {arm: [r for r in runs if r["arm"] == arm] for arm in ARMS}
    at_rest = results.get("transactions_at_rest_per_second", 0.0)
    transactions = [max(0.0, sum(r.get("observed", {}).get("transactions", {}).values())
                        - at_rest * r["cpu"]["window_seconds"]) / r["created"] for r in runs]
    python = [python_security(r) for r in runs]
    sampled = [p for p in python if p]
    # Code is the same in both arms: the Python side is averaged over every run.
    python_ms = {c: _mean([sum(process["ms_per_claim"][c] for process in run.values()) for run in sampled]) or 0.0
                 for c in CATEGORIES}
    binding_us = per_transaction_binding_us(results.get("binding", {}).get("binding_us", {}))
    per_transaction = _mean(transactions) or 0.0
    binding_client_sampled = python_ms["practice binding"]
    binding_client_per_transaction = per_transaction * binding_us["client"] / 1000
    binding_server = per_transaction * binding_us["server"] / 1000
    pg = {arm: [r["cpu_ms_per_claim"].get("postgresql", 0.0) for r in by_arm[arm]] for arm in ARMS}
    pipeline = {arm: [pipeline_ms_per_claim(r) for r in by_arm[arm]] for arm in ARMS}
    paired = [(on["cpu_ms_per_claim"].get("postgresql", 0.0) - off["cpu_ms_per_claim"].get("postgresql", 0.0))
              for on, off in zip(by_arm["on"], by_arm["off"])]
    policies = (_mean(pg["on"]) - _mean(pg["off"])) if pg["on"] and pg["off"] else None
    parts = {
        "token verification": python_ms["token verification"],
        "authorization": python_ms["authorization"],
        "rate limit": python_ms["rate limit"],
        "binding, client": max(binding_client_sampled, binding_client_per_transaction),
        "binding, server": binding_server,
        "policies": max(0.0, policies or 0.0),
    }
    total = sum(parts.values())
    pipeline_on = _mean(pipeline["on"])
    summary = {
        "transactions_per_claim": per_transaction,
        "binding_per_transaction_us": binding_us,
        "python_side_ms_per_claim": python_ms,
        "binding_client_ms_per_claim": {"sampled": binding_client_sampled,
                                        "per_transaction": binding_client_per_transaction},
        "postgresql_ms_per_claim": pg,
        "postgresql_on_minus_off_per_round": paired,
        "policies_ms_per_claim": policies,
        "pipeline_ms_per_claim": pipeline,
        "parts_ms_per_claim": parts,
        "total_ms_per_claim": total,
    }
    if pipeline_on:
        without = pipeline_on - total
        summary.update(share_of_pipeline_percent=100 * total / pipeline_on,
                       added_percent=100 * total / without if without > 0 else None,
                       target_added_percent=TARGET_ADDED_PERCENT)
        summary["met"] = summary["added_percent"] is not None and summary["added_percent"] <= TARGET_ADDED_PERCENT
    return summary


def render(results: dict) -> str:
    from bench.report import table

    out = ["", "=" * 100, "Security share of intake CPU (issue 13: token verification and RLS add <= 10 % CPU "
           "per claim)", "=" * 100,
           f"Load average at start {' '.join(map(str, results['machine']['load_average_at_start']))}, at end "
           f"{' '.join(map(str, results.get('load_average_at_end', [])))}; commit {results['code']['commit']}"]
    if results.get("aborted"):
        out.append(f"ABORTED: {results['aborted']}")
    rows = []
    for run in results["runs"]:
        cpu, per = run["cpu"], run["cpu_ms_per_claim"]
        transactions = sum(run.get("observed", {}).get("transactions", {}).values())
        rows.append([run["label"] + (" (MEASUREMENT ARM)" if run["arm"] == "off" else ""),
                     f"{run['achieved_rate']:g}", str(run["errors"]), f"{pipeline_ms_per_claim(run):.3f}",
                     f"{per.get('postgresql', 0):.3f}", f"{per.get('claims', 0):.3f}",
                     f"{transactions / run['created']:.2f}" if run["created"] else "-",  # gross, rest included
                     f"{cpu['outside_stack_percent_of_one_core']:.0f}",
                     " ".join(map(str, run.get("load_average_at_start", [])))])
    if rows:
        out += ["", "Runs (CPU ms per claim above each component's CPU at rest; 'other': % of a core busy outside "
                "the stack):", "", table(["run", "claims/s", "errors", "pipeline", "postgresql", "claims API",
                                          "xacts/claim (gross)", "other %", "load avg"], rows)]
    python_rows = []
    for run in results["runs"]:
        for name, figures in python_security(run).items():
            python_rows.append([run["label"], name, str(figures["samples"]), f"{figures['cpu_seconds']:.1f}",
                                *(f"{figures['share_percent'][c]:.2f}" for c in CATEGORIES),
                                f"{sum(figures['ms_per_claim'].values()) * 1000:.1f}"])
    if python_rows:
        out += ["", f"Python side: % of each process's samples (py-spy, holding the GIL, "
                f"{results['options']['sampling_rate']}/s) in security code, and that share of its CPU per claim:", "",
                table(["run", "process", "samples", "CPU s", *(f"{c} %" for c in CATEGORIES), "µs/claim"],
                      python_rows)]
    summary = results.get("summary")
    if summary:
        measured = results.get("binding", {}).get("binding_us", {})
        binding = summary["binding_per_transaction_us"]
        out += ["", f"Binding per transaction (bench.row_security, owner read with - without the practice in its "
                f"BEGIN; median / lowest round): client {measured.get('client_cpu_us')} / "
                f"{measured.get('client_cpu_min_us')} µs, server {measured.get('server_cpu_us')} / "
                f"{measured.get('server_cpu_min_us')} µs; taken as client {binding['client']:.1f} µs, server "
                f"{binding['server']:.1f} µs (the larger, at least 0); {summary['transactions_per_claim']:.2f} "
                f"transactions per claim (every database, above the "
                f"{results.get('transactions_at_rest_per_second', 0.0):.1f}/s at rest; an upper bound)",
                f"PostgreSQL CPU per claim: on {_fmt(summary['postgresql_ms_per_claim']['on'])}, off (measurement "
                f"arm) {_fmt(summary['postgresql_ms_per_claim']['off'])}; on - off per round "
                f"{_fmt(summary['postgresql_on_minus_off_per_round'])} ms",
                f"Pipeline CPU per claim: on {_fmt(summary['pipeline_ms_per_claim']['on'])}, off "
                f"{_fmt(summary['pipeline_ms_per_claim']['off'])} ms", "",
                "Security CPU per claim:"]
        out += [f"  {name:20} {value * 1000:8.1f} µs" for name, value in summary["parts_ms_per_claim"].items()]
        out.append(f"  {'total':20} {summary['total_ms_per_claim'] * 1000:8.1f} µs")
        if "share_of_pipeline_percent" in summary:
            added = summary["added_percent"]
            out.append(f"  = {summary['share_of_pipeline_percent']:.1f} % of the pipeline's CPU per claim with RLS on; "
                       f"adds {added:.1f} % to the pipeline without it"
                       f" [{'MET' if summary['met'] else 'NOT MET'}: target <= {TARGET_ADDED_PERCENT:g} %]"
                       if added is not None else "  (pipeline too small to compare)")
    return "\n".join(out)


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"
