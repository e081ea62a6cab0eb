"""The intake benchmark: EHR encounters in (in each intake form: JSON with and without
Idempotency-Key, FHIR Claim, FHIR Bundle, encounter batches; bench.forms), claims out to remittance.

Sequence (every step bounded in count and time):
1. Start a fresh stack on BENCH_PORTS (moved by OPENRCM_TEST_PORT_OFFSET, as the test stack is)
   under .local/bench (PostgreSQL, Kafka, the services).
2. Warm-up: a few seconds of low open-loop load (own tenant, not reported), waited through to
   the remittance service, then a few idle seconds to record the stack's background CPU.
3. One open-loop run per offered rate (from vegeta, bench.vegeta, or the Python generator,
   bench.load), then (Python generator only) one closed-loop run (the maximum). Rates and counts
   are claims; a form carrying several claims per request is sent at the rate divided by that.
   Each run uses a fresh tenant; after it, the remittance database is polled until every claim that got a 201
   shows up there (bounded), which also drains the pipeline before the next run.
4. Optionally, services restarted under cProfile and driven by closed-loop load (not reported
   as figures: profiling slows them down).
5. Stop the stack (always, Ctrl-C included), print the tables, write the JSON results.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from openrcm_devstack.paths import local_dir, repo_root
from openrcm_devstack.stack import BENCH_PORTS, Stack
from openrcm_shared.contracts.topics import CLAIMS as CLAIMS_TOPIC

from bench import report
from bench.cpu import CpuMeter, usage_between
from bench.downstream import count_claims, sessions_by_database, wait_for_expected_claims
from bench.forms import PAYER, PAYER_ID, IntakeForm, intake_form
from bench.load import Exchange, Window, closed_loop, open_loop
from bench import host_speed
from bench.machine import describe_code, describe_machine, load_average
from bench.profiled import START as PROFILE_START, STOP as PROFILE_STOP
from bench.profiling import restart_profiled, signal_profilers, summarize_profile
from bench.service_metrics import (
    CONSUMER_DURATION, ENCOUNTER_ROUTE, OUTBOX_BACKLOG, OUTBOX_PUBLISHED, REQUEST_DURATION, counter_delta,
    gauge_value, histogram_delta, scrape,
)
from bench.stats import summarize
from bench.vegeta import Target, VegetaMissing, attack, find_vegeta, read_attack, write_targets
from bench.wire import ConnectionPool

# The targets this benchmark checks (docs/benchmarks.md): on the 2-core box with everything on it.
TARGET_RATE = 300.0
TARGET_API_P99_MS = 250.0
TARGET_E2E_P99_MS = 2000.0
STRETCH_RATE = 1000.0
# "Sustained": the run delivered what was offered, without errors, and every claim reached remittance.
SUSTAINED_FRACTION = 0.99


@dataclass
class IntakeOptions:
    rates: list[float] = field(default_factory=lambda: [100.0, 300.0, 500.0])
    duration: float = 20.0
    workers: int = 64
    max_requests: int = 30_000
    connections: int = 512
    request_timeout: float = 30.0
    drain_timeout: float = 60.0
    warmup: float = 3.0
    warmup_rate: float = 50.0
    idle_seconds: float = 3.0
    pause: float = 2.0
    closed_loop: bool = True
    profile: list[str] = field(default_factory=list)
    profile_seconds: float = 15.0
    # The clearinghouse simulator's front end (CLEARINGHOUSE_FRONT_END_VALIDATOR). The simulator
    # stands for an external party, so the targets are judged with its cheap "envelope" check;
    # "pyx12" adds that party's validation CPU to this machine, the figure reported beside.
    clearinghouse_validator: str = "envelope"
    forms: list[str] = field(default_factory=lambda: ["json"])  # bench.forms.FORMS, each run in turn
    batch_size: int = 10          # claims per request of the batch and fhir-bundle forms
    generator: str = "vegeta"     # the open-loop load: "vegeta" (bench.vegeta) or "python" (bench.load)


@dataclass
class RunSpec:
    label: str
    mode: str                   # "open" | "closed"
    duration: float
    requests: int               # how many requests are prepared: the hard cap
    rate: float | None = None   # open loop, claims/s
    workers: int | None = None  # closed loop
    form: str = "json"          # bench.forms

    @property
    def slug(self) -> str:
        return self.label.replace(" ", "-").replace("/", "")


class WindowObserver(Protocol):
    """Something measured over exactly a run's load window, beside the CPU (bench.security_share:
    a sampling profiler, PostgreSQL's transaction counts). Started just before the window's first
    CPU sample, ended just after its last, so its own work falls outside the window."""

    name: str

    async def window_started(self, label: str) -> None: ...

    async def window_ended(self, label: str) -> dict: ...


@dataclass
class Context:
    stack: Stack
    options: IntakeOptions
    meter: CpuMeter
    vegeta: Path | None = None  # the vegeta binary, when it generates the open-loop load
    idle_cpu: dict | None = None  # the stack at rest after the warm-up (usage_between)
    observers: list[WindowObserver] = field(default_factory=list)

    @property
    def claims_url(self) -> str:
        return self.stack.services["claims"].url

    @property
    def claims_outbox_url(self) -> str:
        """Where the claims outbox's metrics are: the process running its relay."""
        services = self.stack.services
        return (services.get("claims-relay") or services.get("claims-worker") or services["claims"]).url

    @property
    def remittance_url(self) -> str:
        return self.stack.services["remittance"].url


# --- one run --------------------------------------------------------------------------------------

def practice_headers(ctx: Context, tenant_id: str) -> dict[str, str]:
    """An EHR's headers: one access token for the whole run (as an EHR reuses its token for an
    hour), signed by the stack's issuer, so every request pays the real verification path."""
    token = ctx.stack.issuer.mint(tenant_id, ["claims:write", "reference:admin"], client_id="bench-ehr",
                                  subject="bench-ehr")
    return {"Authorization": f"Bearer {token}"}


def prepare_requests(form: IntakeForm, count: int) -> list:
    """Synthetic encounters (tests/support.py, tests/fixtures/fhir) in the form's shape, unique per
    request, made before the clock starts."""
    return [form.request(number) for number in range(count)]


def encode_requests(pool: ConnectionPool, form: IntakeForm, headers: dict[str, str], prepared: list) -> list[bytes]:
    """For the Python generator: every request fully encoded before the clock starts."""
    return [pool.request_bytes("POST", form.path, r.body, {**headers, **r.headers}) for r in prepared]


async def register_practice(pool: ConnectionPool, headers: dict[str, str]) -> None:
    """The new practice's payer registry: the one payer its encounters name (not timed)."""
    response = await pool.send(pool.request_bytes("PUT", f"/v1/payers/{PAYER_ID}", json.dumps(PAYER).encode(),
                                                  {**headers, "Content-Type": "application/json"}))
    if response.status != 200:
        raise RuntimeError(f"registering payer {PAYER_ID} failed: HTTP {response.status} {response.body[:300]!r}")


async def measure(ctx: Context, spec: RunSpec) -> dict:
    options = ctx.options
    tenant_id = f"bench-{spec.slug}-{uuid.uuid4().hex[:8]}"
    pool = ConnectionPool("127.0.0.1", ctx.stack.ports.services["claims"],
                          max_connections=spec.workers or options.connections)
    headers = practice_headers(ctx, tenant_id)
    form = intake_form(spec.form, options.batch_size)
    prepared = prepare_requests(form, spec.requests)
    by_vegeta = spec.mode == "open" and ctx.vegeta is not None
    if by_vegeta:
        targets = ctx.stack.state_dir / f"vegeta-{spec.slug}.targets"
        url = f"{ctx.claims_url}{form.path}"
        write_targets(targets, [Target("POST", url, r.body, {**headers, **r.headers}) for r in prepared])
    else:
        requests = encode_requests(pool, form, headers, prepared)
    del prepared
    await register_practice(pool, headers)
    settled = await settle(ctx)
    print(f"  {spec.label}: {spec.requests} requests ({spec.requests * form.claims_per_request} claims, form "
          f"{form.name}) prepared, running {spec.duration:g} s ...", flush=True)
    load_at_start = load_average()
    scrapes_before = await scrape_services(ctx)
    sessions_before = await sessions_by_database(ctx.stack.database_url("claims"))
    for observer in ctx.observers:
        await observer.window_started(spec.label)
    cpu_before = ctx.meter.sample()
    started_at = datetime.now(timezone.utc)  # to line the timeline up with the services' and PostgreSQL's logs
    vegeta_report = None
    host_probe = host_speed.ProbeDuringRun()
    host_probe.start()
    try:
        if by_vegeta:
            await attack(ctx.vegeta, targets, ctx.stack.state_dir / f"vegeta-{spec.slug}.bin",
                         rate=spec.rate / form.claims_per_request, requests=spec.requests,
                         timeout=options.request_timeout, connections=options.connections)
        elif spec.mode == "open":
            exchanges, window = await open_loop(pool, requests, rate=spec.rate / form.claims_per_request,
                                                request_timeout=options.request_timeout)
        else:
            exchanges, window = await closed_loop(pool, requests, workers=spec.workers, duration=spec.duration,
                                                  request_timeout=options.request_timeout)
    finally:
        await pool.close()
        speed_during_run = host_probe.stop()
    cpu_after = ctx.meter.sample()
    observed = {observer.name: await observer.window_ended(spec.label) for observer in ctx.observers}
    backlog_at_end = await claims_event_backlog(ctx)
    scrapes_after = await scrape_services(ctx)
    if by_vegeta:  # read back after the CPU window: decoding is the generator's, not the load's
        exchanges, window, vegeta_report = await read_attack(ctx.vegeta, ctx.stack.state_dir /
                                                             f"vegeta-{spec.slug}.bin")
    sessions_after = await sessions_by_database(ctx.stack.database_url("claims"))

    result = summarize_run(spec, form, exchanges, window)
    result["generator"] = "vegeta" if by_vegeta else "python"
    if vegeta_report is not None:
        result["vegeta_report"] = vegeta_report
    result.update(tenant_id=tenant_id, started_at=started_at.isoformat(timespec="milliseconds"),
                  load_average_at_start=load_at_start, settle_before_seconds=settled,
                  connections_opened=pool.opened_total, cpu=usage_between(cpu_before, cpu_after),
                  host_speed=speed_during_run)
    if observed:
        result["observed"] = observed
    result["server_side"] = server_side(scrapes_before, scrapes_after, form.path)
    result["server_side"]["postgresql_sessions_opened"] = {
        name: count - sessions_before.get(name, 0) for name, count in sessions_after.items()}
    result["end_to_end"] = await end_to_end(ctx, tenant_id, form, exchanges)
    # Whether the consumers kept up or only put work off: what each group of the claims topic had
    # not applied when the load stopped, and once the end-to-end wait was over.
    result["consumer_backlog"] = {"window_end": backlog_at_end, "after_drain": await claims_event_backlog(ctx)}
    result["cpu_ms_per_claim"] = cpu_per_claim(result["cpu"], result["created"], ctx.idle_cpu)
    print(f"    {report.run_line(result)}", flush=True)
    return result


async def claims_event_backlog(ctx: Context) -> dict[str, int] | str:
    """Records of the claims topic each consumer group has not committed (deploy/topics.toml's
    groups of the topic); the error's class if the broker could not be asked."""
    from openrcm_devstack.events import consumer_lag
    from openrcm_devstack.topics import load_catalogue

    spec = next(topic for topic in load_catalogue() if topic.name == CLAIMS_TOPIC)
    try:
        return await consumer_lag(ctx.stack.kafka.bootstrap_servers, CLAIMS_TOPIC, list(spec.consumer_groups))
    except Exception as exc:  # a figure beside the run, not worth failing the run for
        return type(exc).__name__


async def settle(ctx: Context, *, prompt_seconds: float = 0.25) -> float | None:
    """Wait (bounded by the drain time-out) until the stack is idle: the claims service's /metrics
    answers promptly, its outbox is empty, and every consumer group has applied the claims topic.
    An overloaded earlier run can leave requests the client gave up on still queued in the
    service, and a consumer thousands of events behind (collections after a minute at 300/s)
    takes its share of the cores while it catches up: neither may spill into the next run.
    Returns how long it took, or None if it never settled (the run goes ahead, noted)."""
    started = time.monotonic()
    while time.monotonic() - started < ctx.options.drain_timeout:
        asked = time.monotonic()
        try:
            await scrape(ctx.claims_url)
            prompt = time.monotonic() - asked < prompt_seconds
            outbox = await scrape(ctx.claims_outbox_url)
            if prompt and gauge_value(outbox, OUTBOX_BACKLOG, {"service": "claims"}) in (0, None) \
                    and await consumers_caught_up(ctx):
                return round(time.monotonic() - started, 2)
        except Exception:  # not answering yet: still busy
            pass
        await asyncio.sleep(0.5)
    print("    (claims service still busy; running anyway)", flush=True)
    return None


async def consumers_caught_up(ctx: Context) -> bool:
    backlog = await claims_event_backlog(ctx)
    # <= 0: the end offsets and the group's commits are read at slightly different moments.
    return isinstance(backlog, dict) and all(lag <= 0 for lag in backlog.values())


async def scrape_services(ctx: Context) -> tuple | str:
    """/metrics of claims, remittance and the claims process relaying its outbox (the claims worker,
    or claims itself), or why not: an overloaded service may not answer in time, which must not end
    the benchmark."""
    try:
        return tuple(await asyncio.gather(scrape(ctx.claims_url), scrape(ctx.remittance_url),
                                          scrape(ctx.claims_outbox_url)))
    except Exception as exc:
        print(f"    (metrics not scraped: {type(exc).__name__}: {exc})", flush=True)
        return f"{type(exc).__name__}: {exc}"


def server_side(before: tuple | str, after: tuple | str, path: str) -> dict:
    """What the services observed during the run, from the difference of two scrapes."""
    route = {**ENCOUNTER_ROUTE, "route": path}
    if isinstance(before, str) or isinstance(after, str):
        return {"unavailable": before if isinstance(before, str) else after}
    return {
        "claims_request_duration": histogram_delta(before[0], after[0], REQUEST_DURATION, route,
                                                   split_by="status"),
        "claims_outbox_published": counter_delta(before[2], after[2], OUTBOX_PUBLISHED, {"service": "claims"}),
        "remittance_consumer_processing": histogram_delta(before[1], after[1], CONSUMER_DURATION,
                                                          {"group": "remittance"}).get("all"),
    }


def summary_ms(seconds: list[float]) -> dict:
    """summarize() of durations in seconds, reported in milliseconds."""
    return {k: (v if k == "count" else round(v * 1000, 2)) for k, v in summarize(seconds).items()}


def summarize_run(spec: RunSpec, form: IntakeForm, exchanges: list[Exchange], window: Window) -> dict:
    """Counts in claims (`created`, `achieved_rate`) and in requests (`sent`, `errors`); a request
    of several claims that did not create them all counts as an error, by its refused claims."""
    created = [len(form.created(e.status, e.body)) for e in exchanges]
    ok = [e for e, n in zip(exchanges, created) if n == form.claims_per_request]
    errors = Counter(e.error if e.error else f"HTTP {e.status}" for e, n in zip(exchanges, created)
                     if e.status != form.ok_status)
    partial = sum(form.claims_per_request - n for e, n in zip(exchanges, created) if e.status == form.ok_status
                  and n < form.claims_per_request)
    if partial:
        errors["claims refused inside a taken request"] = partial
    if window.abandoned:
        errors["abandoned in flight"] += window.abandoned
    samples = [e.body.decode(errors="replace")[:300] for e, n in zip(exchanges, created)
               if e.status is not None and n < form.claims_per_request][:3]
    result = {
        "label": spec.label,
        "form": form.name,
        "claims_per_request": form.claims_per_request,
        "mode": spec.mode,
        "offered_rate": spec.rate,
        "workers": spec.workers,
        "duration_seconds": spec.duration,
        "requests_prepared": spec.requests,
        "claims_offered": spec.requests * form.claims_per_request,
        "sent": len(exchanges) + window.abandoned,
        "created": sum(created),
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "error_samples": samples,
        "window_seconds": round(window.seconds, 3),
        "achieved_rate": round(sum(created) / window.seconds, 1) if window.seconds > 0 else 0.0,
        # Ran out of prepared requests (the hard cap) before the duration was over.
        "capped": window.capped or (spec.mode == "open" and spec.requests * form.claims_per_request
                                    < round(spec.rate * spec.duration)),
        # Every request, errors included (a time-out counts with its elapsed time).
        "api_latency_ms": summary_ms([e.latency for e in exchanges]),
        "api_latency_201_ms": summary_ms([e.latency for e in ok]),
    }
    result["timeline"] = timeline(exchanges, window.start)
    if spec.mode == "open":
        # How late the generator launched requests (already included in the latency above).
        result["generator_lag_ms"] = summary_ms([e.lag for e in exchanges])
        result["schedule_seconds"] = round(window.schedule_end - window.start, 3)
    return result


def cpu_per_claim(cpu: dict, claims: int, idle: dict | None = None) -> dict:
    """CPU milliseconds per claim created, per component and for the services together (the stack
    but PostgreSQL, Kafka and the clearinghouse simulator, which are counted on their own). With
    `idle` (the stack's CPU at rest, usage_between after the warm-up), what each component uses at
    rest (polling, heartbeats) is taken off first: at low rates it would otherwise dominate."""
    if not cpu or not claims:
        return {}
    seconds = cpu["window_seconds"]
    at_rest = (idle or {}).get("percent_of_one_core", {})
    per = {name: round(max(0.0, share - at_rest.get(name, 0.0)) / 100 * seconds * 1000 / claims, 3)
           for name, share in cpu["percent_of_one_core"].items()}
    per["services"] = round(sum(v for k, v in per.items() if k not in (
        "postgresql", "kafka", "clearinghouse", "load generator")), 3)
    return per


async def end_to_end(ctx: Context, tenant_id: str, form: IntakeForm, exchanges: list[Exchange]) -> dict:
    """recorded_at in the remittance database minus the answer's arrival, for every created claim."""
    arrival_by_claim = {claim_id: e.arrived_wall for e in exchanges for claim_id in form.created(e.status, e.body)}
    arrivals = await wait_for_expected_claims(ctx.stack.database_url("remittance"), tenant_id,
                                              list(arrival_by_claim), timeout=ctx.options.drain_timeout)
    delays = [arrivals.recorded_at[claim] - arrived for claim, arrived in arrival_by_claim.items()
              if claim in arrivals.recorded_at]
    latency = summary_ms(delays)
    created = await count_claims(ctx.stack.database_url("claims"), tenant_id)
    return {
        "latency_ms": latency,
        # The same path in two legs (where the time goes): the answer -> the claim's 837 round
        # (ClaimSubmitted's submitted_at: waiting for a round, and rounds falling behind), and the
        # round -> applied by remittance (the round's own work, the relay, the broker, the consumer).
        "to_837_round_ms": summary_ms([arrivals.submitted_at[claim] - arrived
                                       for claim, arrived in arrival_by_claim.items() if claim in arrivals.submitted_at]),
        "round_to_remittance_ms": summary_ms([arrivals.recorded_at[claim] - arrivals.submitted_at[claim]
                                              for claim in arrival_by_claim if claim in arrivals.recorded_at]),
        "expected": len(arrival_by_claim),
        "arrived": len(delays),
        "never_arrived": len(arrival_by_claim) - len(delays),
        "waited_after_run_seconds": arrivals.waited_seconds,
        "wait_bound_seconds": ctx.options.drain_timeout,
        # Recorded before the client read its 201 (possible: the relay is woken at commit).
        "negative": sum(1 for d in delays if d < 0),
        # Claims in the claims database for this run's tenant, counted after the wait: those beyond
        # the 201s were created for requests the client had already given up on (time-outs).
        "claims_in_database": created,
        "created_without_201_seen": created - len(arrival_by_claim),
    }


def timeline(exchanges: list[Exchange], start: float) -> list[dict]:
    """Per second of the run (by due time): requests, 201s, and latency p50/p99/max in ms."""
    seconds: dict[int, list[Exchange]] = {}
    for e in exchanges:
        seconds.setdefault(int(e.due - start), []).append(e)
    rows = []
    for second in sorted(seconds):
        group = seconds[second]
        latency = summarize([e.latency for e in group], points=(50, 99))
        rows.append({"second": second, "requests": len(group), "created": sum(e.status == 201 for e in group),
                     **{k: round(latency[k] * 1000, 1) for k in ("p50", "p99", "max")}})
    return rows


# --- the sequence ----------------------------------------------------------------------------------

def requests_for(options: IntakeOptions, form: str, rate: float, duration: float) -> int:
    """Requests of an open-loop run: rate x duration claims, in requests of the form's size."""
    per_request = intake_form(form, options.batch_size).claims_per_request
    return max(1, min(options.max_requests, round(rate * duration / per_request)))


def plan(options: IntakeOptions) -> list[RunSpec]:
    runs = [RunSpec(f"{form} open {rate:g}/s", "open", options.duration,
                    requests_for(options, form, rate, options.duration), rate=rate, form=form)
            for form in options.forms for rate in options.rates]
    if options.closed_loop and options.generator == "python":
        runs += [RunSpec(f"{form} closed {options.workers}", "closed", options.duration, options.max_requests,
                         workers=options.workers, form=form) for form in options.forms]
    return runs


async def warm_up(ctx: Context) -> dict:
    """Connections, pools and caches warmed on a throw-away tenant; then the idle background CPU."""
    options = ctx.options
    for form in options.forms:  # every form's code paths warmed
        result = await measure(ctx, RunSpec(f"{form} warm-up", "open", options.warmup,
                                            requests_for(options, form, options.warmup_rate, options.warmup),
                                            rate=options.warmup_rate, form=form))
    before = ctx.meter.sample()
    await asyncio.sleep(options.idle_seconds)
    idle = ctx.idle_cpu = usage_between(before, ctx.meter.sample())
    return {"run": result, "idle_cpu": idle}


async def profile_phase(ctx: Context, stamp: str) -> dict:
    """Restart the chosen services under cProfile, warm them up, then profile closed-loop load."""
    options = ctx.options
    outputs = {name: ctx.stack.state_dir / f"profile-{stamp}-{name}.prof" for name in options.profile}
    for name, output in outputs.items():
        print(f"  restarting {name} under cProfile ...", flush=True)
        await asyncio.to_thread(restart_profiled, ctx.stack, name, output)
    ctx.meter = CpuMeter(_component_pids(ctx.stack))  # the restarted services have new pids
    form = options.forms[0]
    warm = await measure(ctx, RunSpec("profile warm-up", "open", options.warmup,
                                      requests_for(options, form, options.warmup_rate, options.warmup),
                                      rate=options.warmup_rate, form=form))
    signal_profilers(ctx.stack, outputs, PROFILE_START)
    try:
        run = await measure(ctx, RunSpec(f"profiled {form} closed {options.workers}", "closed",
                                         options.profile_seconds, options.max_requests, workers=options.workers,
                                         form=form))
    finally:
        signal_profilers(ctx.stack, outputs, PROFILE_STOP)
    for name in outputs:  # graceful: the stats get written
        await asyncio.to_thread(ctx.stack.services.pop(name).process.stop)
    profiles = {}
    for name, output in outputs.items():
        profiles[name] = summarize_profile(output) if output.exists() else {"error": "no profile written"}
    return {"warmup": warm, "run": run, "services": profiles}


async def run_sequence(ctx: Context, results: dict, stamp: str) -> None:
    print("Warm-up ...", flush=True)
    results["warmup"] = await warm_up(ctx)
    print("Runs:", flush=True)
    for spec in plan(ctx.options):
        results["runs"].append(await measure(ctx, spec))
        await asyncio.sleep(ctx.options.pause)
    if ctx.options.profile:
        print("Profile (figures not comparable: profiling slows the services down):", flush=True)
        results["profile"] = await profile_phase(ctx, stamp)


# --- targets ---------------------------------------------------------------------------------------

def sustained(run: dict) -> bool:
    e2e = run["end_to_end"]
    offered = run.get("claims_offered", run["requests_prepared"])
    return (run["errors"] == 0 and run["created"] >= SUSTAINED_FRACTION * offered
            and run["achieved_rate"] >= SUSTAINED_FRACTION * run["offered_rate"] and e2e["never_arrived"] == 0)


def check_targets(runs: list[dict]) -> dict:
    """Each target for each form that had an open-loop run at the target rate, and the stretch."""
    checks = {}
    forms = list(dict.fromkeys(r.get("form", "json") for r in runs))
    for form in forms:
        at_target = next((r for r in runs if r.get("form", "json") == form and r["mode"] == "open"
                          and r["offered_rate"] == TARGET_RATE), None)
        if at_target is None:
            checks[f"{form}: note"] = f"{form}: no open-loop run at {TARGET_RATE:g}/s: its main targets were not checked"
            continue
        api_p99 = at_target["api_latency_ms"].get("p99")
        e2e_p99 = at_target["end_to_end"]["latency_ms"].get("p99")
        checks[f"{form}: sustained {TARGET_RATE:g} claims/s"] = {
            "met": sustained(at_target),
            "measured": f"{at_target['achieved_rate']:g}/s achieved, {at_target['errors']} errors, "
                        f"{at_target['end_to_end']['never_arrived']} never arrived"}
        checks[f"{form}: API p99 <= {TARGET_API_P99_MS:g} ms at {TARGET_RATE:g}/s"] = {
            "met": api_p99 is not None and api_p99 <= TARGET_API_P99_MS, "measured": f"{api_p99} ms"}
        checks[f"{form}: end-to-end p99 <= {TARGET_E2E_P99_MS:g} ms at {TARGET_RATE:g}/s"] = {
            "met": e2e_p99 is not None and e2e_p99 <= TARGET_E2E_P99_MS, "measured": f"{e2e_p99} ms"}
    if not forms:
        checks["note"] = f"no open-loop run at {TARGET_RATE:g}/s: the main targets were not checked"
    best_open = max((r["achieved_rate"] for r in runs if r["mode"] == "open" and sustained(r)), default=0.0)
    best_closed = max((r["achieved_rate"] for r in runs if r["mode"] == "closed"), default=0.0)
    checks[f"stretch: {STRETCH_RATE:g} claims/s"] = {
        "met": best_open >= STRETCH_RATE or best_closed >= STRETCH_RATE,
        "measured": f"highest sustained open-loop rate {best_open:g}/s; closed-loop maximum {best_closed:g}/s"}
    return checks


# --- entry point -----------------------------------------------------------------------------------

def _carry_over(folder: Path) -> dict[str, bytes]:
    """Earlier results and profiles: the fresh stack wipes its folder, they must survive it."""
    if not folder.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in folder.iterdir()
            if p.is_file() and p.name.startswith(("results-", "profile-"))}


def _new_event_loop():
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_intake(options: IntakeOptions, argv: list[str]) -> int:
    state_dir = local_dir() / "bench"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    machine = describe_machine()
    results: dict = {
        "benchmark": "intake",
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(argv),
        "options": asdict(options),
        "machine": machine,
        "code": describe_code(repo_root()),
        "stack": {"ports": asdict(BENCH_PORTS), "state_dir": str(state_dir)},
        "runs": [],
    }
    try:
        vegeta = vegeta_for(options.generator)
    except VegetaMissing as missing:
        print(missing, file=sys.stderr)
        return 2
    if vegeta is not None:
        results["vegeta"] = str(vegeta)
    print(report.header(machine, options), flush=True)

    async def sequence(stack: Stack) -> None:
        ctx = Context(stack, options, CpuMeter(_component_pids(stack)), vegeta)
        await run_sequence(ctx, results, stamp)

    exit_code = run_on_fresh_stack(state_dir, options.clearinghouse_validator, results, sequence)
    results["targets"] = check_targets(results["runs"])
    path = state_dir / f"results-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(report.render(results))
    print(f"\nResults: {path}")
    return exit_code


def vegeta_for(generator: str) -> Path | None:
    """The vegeta binary when it generates the load (raises VegetaMissing, saying how to install
    it, when it is not there); None for the Python generator."""
    return find_vegeta() if generator == "vegeta" else None


def run_on_fresh_stack(state_dir: Path, clearinghouse_validator: str, results: dict, sequence) -> int:
    """Start a fresh stack on the bench ports in `state_dir` (keeping earlier results and profiles
    there), run `sequence(stack)` (a coroutine function) on uvloop, and stop the stack whatever
    happens, a second Ctrl-C included. An interruption or failure is recorded in `results["aborted"]`;
    returns the exit code (0, 1 failed, 130 interrupted)."""
    kept = _carry_over(state_dir)
    # The host's speed before anything of the stack runs, and again once it has stopped.
    results["host_speed"] = {"before": host_speed.probe()}
    stack = Stack(state_dir, BENCH_PORTS, fresh=True)
    for name, content in kept.items():
        (state_dir / name).write_bytes(content)
    exit_code = 0
    previous_sigterm = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        print("Starting PostgreSQL, Kafka, topics, migrations and the services ...", flush=True)
        started = time.monotonic()
        stack.start_infrastructure()
        # The simulator takes its environment from this process (Stack.start_clearinghouse).
        os.environ["CLEARINGHOUSE_FRONT_END_VALIDATOR"] = clearinghouse_validator
        stack.start_services()
        results.setdefault("stack", {})["start_seconds"] = round(time.monotonic() - started, 1)
        with asyncio.Runner(loop_factory=_new_event_loop) as runner:
            results["event_loop"] = type(runner.get_loop()).__module__.split(".")[0]
            runner.run(sequence(stack))
    except KeyboardInterrupt:
        results["aborted"] = "interrupted"
        exit_code = 130
        print("\nInterrupted.", file=sys.stderr)
    except Exception as exc:
        results["aborted"] = f"{type(exc).__name__}: {exc}"
        exit_code = 1
        print(f"\nBenchmark failed: {exc}", file=sys.stderr)
    finally:
        previous_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the stop
        print("Stopping the stack ...", flush=True)
        try:
            stack.stop()
        finally:
            signal.signal(signal.SIGINT, previous_sigint)
            signal.signal(signal.SIGTERM, previous_sigterm)
    results["load_average_at_end"] = load_average()
    results["host_speed"]["after"] = host_speed.probe()
    return exit_code


def _component_pids(stack: Stack) -> dict[str, int]:
    pids = {name: service.process.pid for name, service in stack.services.items()}
    extra = getattr(stack, "clearinghouse", None)  # the clearinghouse simulator, where the stack runs one
    if extra is not None and extra.process.pid:
        pids["clearinghouse"] = extra.process.pid
    if stack.postgres and stack.postgres.process:
        pids["postgresql"] = stack.postgres.process.pid
    if stack.kafka.process:
        pids["kafka"] = stack.kafka.process.pid
    return pids


def _sigterm_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
