"""Readable tables for the terminal (the JSON results file has everything, unrounded)."""

from __future__ import annotations

from bench.machine import describe_one_line

# Columns of the CPU table, in this order; any other component measured follows them.
COMPONENTS = ("claims", "claims-worker", "claims-relay", "remittance", "eligibility", "denials", "collections", "postgresql", "kafka",
              "load generator")


def _ms(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """First column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def header(machine: dict, options) -> str:
    rates = ", ".join(f"{r:g}" for r in options.rates) or "none"
    generator = getattr(options, "generator", "python")
    closed = f"; closed loop {options.workers} workers" if options.closed_loop and generator == "python" else ""
    validator = getattr(options, "clearinghouse_validator", "envelope")
    simulator = (f"clearinghouse simulator validates with '{validator}' (the targets are judged so: it stands "
                 f"for an external party)" if validator == "envelope" else
                 f"clearinghouse simulator validates with '{validator}': the figure beside the judged one, with "
                 f"the simulated clearinghouse's validation CPU on this machine")
    forms = ", ".join(getattr(options, "forms", ["json"]))
    return (f"OpenRCM intake benchmark: forms {forms}, load from {generator}\n"
            f"Machine: {describe_one_line(machine)}\n"
            f"Open loop at {rates} claims/s{closed}; {options.duration:g} s per run, "
            f"at most {options.max_requests} requests per run\n"
            f"{simulator}\n")


def run_line(run: dict) -> str:
    api, e2e = run["api_latency_ms"], run["end_to_end"]
    return (f"{run['created']}/{run['sent']} created, {run['achieved_rate']:g}/s achieved, {run['errors']} errors; "
            f"API p50 {_ms(api.get('p50'))} p99 {_ms(api.get('p99'))} max {_ms(api.get('max'))} ms; "
            f"end-to-end p50 {_ms(e2e['latency_ms'].get('p50'))} p99 {_ms(e2e['latency_ms'].get('p99'))} "
            f"max {_ms(e2e['latency_ms'].get('max'))} ms; {e2e['never_arrived']} never arrived")


def runs_table(runs: list[dict]) -> str:
    rows = []
    for run in runs:
        api, e2e = run["api_latency_ms"], run["end_to_end"]
        offered = f"{run['offered_rate']:g}" if run["mode"] == "open" else "max"
        rows.append([run["label"] + (" (capped)" if run.get("capped") else ""), offered, _num(run["achieved_rate"]),
                     str(run["sent"]), str(run["created"]), str(run["errors"]),
                     _ms(api.get("p50")), _ms(api.get("p95")), _ms(api.get("p99")), _ms(api.get("max")),
                     _ms(e2e["latency_ms"].get("p50")), _ms(e2e["latency_ms"].get("p99")),
                     _ms(e2e["latency_ms"].get("max")), str(e2e["never_arrived"])])
    return table(["run", "offered/s", "achieved/s", "sent", "claims", "errors", "API p50", "p95", "p99", "max",
                  "E2E p50", "p99", "max", "never"], rows)


def server_table(runs: list[dict]) -> str:
    rows = []
    for run in runs:
        side = run["server_side"]
        duration = side.get("claims_request_duration", {})
        handler = duration.get("201") or duration.get("200") or {}
        consumer = side.get("remittance_consumer_processing") or {}
        lag = run.get("generator_lag_ms", {})
        rows.append([run["label"], str(handler.get("count", "-")), _ms(handler.get("mean_ms")),
                     _ms(handler.get("p50_bucket_ms")), _ms(handler.get("p99_bucket_ms")),
                     _ms(consumer.get("mean_ms")), _ms(consumer.get("p99_bucket_ms")),
                     _num(side.get("claims_outbox_published"), 0), _ms(lag.get("p99")), _ms(lag.get("max")),
                     str(sum((side.get("postgresql_sessions_opened") or {}).values()))])
    return table(["run", "claims 2xx", "mean", "p50<=", "p99<=", "remit. apply mean", "p99<=",
                  "outbox published", "gen. lag p99", "max", "PG sessions opened"], rows)


def end_to_end_table(runs: list[dict]) -> str:
    rows = []
    for run in runs:
        e2e = run["end_to_end"]
        legs = [e2e.get("to_837_round_ms") or {}, e2e.get("round_to_remittance_ms") or {}]
        rows.append([run["label"], *(_ms(leg.get(point)) for leg in legs for point in ("p50", "p99", "max"))])
    return table(["run", "to 837 round p50", "p99", "max", "round to remittance p50", "p99", "max"], rows)


def cpu_table(rows_in: list[tuple[str, dict]]) -> str:
    measured = [cpu for _, cpu in rows_in if cpu]
    extra = sorted({name for cpu in measured for name in cpu["percent_of_one_core"]} - set(COMPONENTS))
    columns = [*COMPONENTS[:-1], *extra, COMPONENTS[-1]]
    rows = []
    for label, cpu in rows_in:
        if not cpu:
            continue
        share = cpu["percent_of_one_core"]
        rows.append([label, *(_num(share.get(c)) for c in columns), _num(cpu["outside_stack_percent_of_one_core"]),
                     f"{_num(cpu['machine_busy_percent_of_one_core'])}/{cpu['machine_capacity_percent']}"])
    return table(["window", *columns, "other", "machine busy"], rows)


_PER_CLAIM = ("services", "claims", "claims-worker", "claims-relay", "remittance", "postgresql", "kafka")


def cpu_per_claim_table(runs: list[dict]) -> str:
    rows = [[run["label"], *(_num(run["cpu_ms_per_claim"].get(c), 2) for c in
                             _PER_CLAIM)] for run in runs if run.get("cpu_ms_per_claim")]
    return table(["run", *_PER_CLAIM], rows)


def backlog_table(runs: list[dict]) -> str:
    groups = sorted({group for run in runs for moment in run.get("consumer_backlog", {}).values()
                     if isinstance(moment, dict) for group in moment})

    def cell(moment: dict | str, group: str) -> str:  # a moment is counts by group, or why there are none
        return str(moment.get(group, "?")) if isinstance(moment, dict) else moment

    rows = []
    for run in runs:
        backlog = run.get("consumer_backlog") or {}
        end, drained = backlog.get("window_end", {}), backlog.get("after_drain", {})
        rows.append([run["label"], *(f"{cell(end, g)} / {cell(drained, g)}" for g in groups)])
    return table(["run", *groups], rows)


def render(results: dict) -> str:
    runs = results["runs"]
    out = ["", "=" * 100, "Intake benchmark results", "=" * 100,
           f"Machine: {describe_one_line(results['machine'])}; load average at end "
           f"{' '.join(str(x) for x in results.get('load_average_at_end', []))}; "
           f"client event loop {results.get('event_loop', '?')}"]
    validator = results.get("options", {}).get("clearinghouse_validator", "pyx12")
    if validator != "envelope":
        out.append(f"FIGURES BESIDE THE TARGETS: the clearinghouse simulator validated with '{validator}' "
                   f"(--clearinghouse-validator); the targets are judged with 'envelope'")
    if results.get("aborted"):
        out.append(f"ABORTED: {results['aborted']} (figures below cover the runs that finished)")
    if runs:
        out += ["", "Latency in ms. API: from when each request was due (open loop) or sent (closed loop) to the "
                "whole response, every request counted; claims: created. E2E: answer received -> row in "
                "remittance's expected_claims. never: created but not in remittance within the wait bound.", "", runs_table(runs)]
        if any(run["end_to_end"].get("to_837_round_ms") for run in runs):
            out += ["", "End to end in two legs, ms: the answer -> the claim's 837 round (ClaimSubmitted's "
                    "submitted_at), and that round -> applied by remittance:", "", end_to_end_table(runs)]
        out += ["", "Server side (claims' own request histogram, bucket bounds; remittance's time to apply one "
                "ClaimSubmitted; load generator lag behind schedule; connections the services opened to "
                "PostgreSQL during the run, all databases):", "", server_table(runs)]
    cpu_rows = []
    if "warmup" in results:
        cpu_rows.append(("idle (after warm-up)", results["warmup"]["idle_cpu"]))
    cpu_rows += [(run["label"], run["cpu"]) for run in runs]
    if cpu_rows:
        out += ["", "CPU, % of one core, during each run's window ('other' = busy CPU outside this stack and "
                "the load generator):", "", cpu_table(cpu_rows)]
    by_part = [(label, cpu.get("postgresql_by_part_percent_of_one_core")) for label, cpu in cpu_rows if cpu]
    if any(parts for _, parts in by_part):
        out += ["", "PostgreSQL's CPU by what it served, % of one core (backends by database; autovacuum; "
                "the server's own processes; exited: processes that ended in the window, autovacuum's workers "
                "above all, each ending after its pass):", ""]
        out += [f"  {label}: " + ", ".join(f"{part} {_num(share)}" for part, share in parts.items())
                for label, parts in by_part if parts]
    speed = host_speed_lines(results)
    if speed:
        out += ["", "Host speed: CPU ms of one round of a fixed Python workload (python -m bench.host_speed; lower is "
                "faster; the same code on an uncontended core of this machine: ~10 ms). Before the stack and after "
                "it, a quiet machine; during a run, the machine's own load adds to the host's:", "", *speed]
    if any(run.get("cpu_ms_per_claim") for run in runs):
        out += ["", "CPU ms per claim created, above each component's CPU at rest ('services': the five services "
                "and their workers):", "",
                cpu_per_claim_table(runs)]
    if any(run.get("consumer_backlog") for run in runs):
        out += ["", "Claims events not yet applied by each consumer group, when the load stopped / after the "
                "end-to-end wait (a group that only put work off shows it here):", "", backlog_table(runs)]
    for run in runs:
        if run["errors"]:
            out += ["", f"Errors in {run['label']}: {run['errors_by_kind']}"]
            out += [f"  e.g. {sample[:200]}" for sample in run["error_samples"][:1]]
        unseen = run["end_to_end"].get("created_without_201_seen", 0)
        if unseen > 0:
            out.append(f"  {run['label']}: {unseen} more claims were created than the client saw 201s for "
                       f"(requests it had given up on)")
    if results.get("targets"):
        out += ["", "Targets:"]
        for name, check in results["targets"].items():
            if isinstance(check, dict):
                out.append(f"  [{'MET' if check['met'] else 'NOT MET'}] {name}: {check['measured']}")
            else:
                out.append(f"  {check}")
    if results.get("profile"):
        out += ["", render_profile(results["profile"])]
    return "\n".join(out)


def host_speed_lines(results: dict) -> list[str]:
    def figure(probe: dict | None) -> str:
        if not probe or "median_ms" not in probe:
            return "not measured"
        return f"median {probe['median_ms']:g}, min {probe['min_ms']:g}, max {probe['max_ms']:g} ms ({probe['rounds']} rounds)"
    speed = results.get("host_speed") or {}
    # The fastest quiet round is the uncontended speed: the median of the quiet rounds can itself
    # fall in a slow minute of the host.
    quiet = (speed.get("before") or {}).get("min_ms")
    lines = [f"  before the stack started: {figure(speed.get('before'))}"] if speed else []
    for run in results["runs"]:
        if "host_speed" not in run:
            continue
        lines.append(f"  during {run['label']}: {figure(run['host_speed'])}")
        # Rounds well over the fastest quiet one: seconds when the host gave less (set them beside the timeline).
        slow = [f"{at:g} s {ms:g} ms" for at, ms in run["host_speed"].get("by_second", [])
                if quiet and ms > 1.5 * quiet]
        if slow:
            lines.append(f"    rounds over 1.5x the fastest quiet round, by second of the run: {', '.join(slow[:12])}"
                         + (f" (+{len(slow) - 12} more)" if len(slow) > 12 else ""))
    if speed:
        lines.append(f"  after the stack stopped: {figure(speed.get('after'))}")
    return lines


def render_profile(profile: dict) -> str:
    out = [f"Profile (cProfile, CPU clock; the profiled run: {run_line(profile['run'])})"]
    for name, summary in profile["services"].items():
        if "error" in summary:
            out.append(f"  {name}: {summary['error']}")
            continue
        out.append(f"\n  {name}: {summary['cpu_seconds_profiled']} CPU s profiled. CPU by library:")
        out += [f"    {share:5.1f} %  {package}" for package, share in summary["by_package_percent"].items()]
        out.append("  Functions by own CPU time:")
        out += [f"    {f['own_percent']:5.1f} %  {f['calls']:>8} calls  {f['function']}"
                for f in summary["top_functions"]]
    return "\n".join(out)
