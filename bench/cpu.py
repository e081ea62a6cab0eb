"""Where the CPU goes during a run: per stack process, the load generator, and everything else.

Read from /proc, no agent. Every stack process is started in its own session (devstack's
ManagedProcess); a process belongs to a component when it is in the component leader's session
or descends from the leader (PostgreSQL's backends call setsid(), so they are found by their
parent). A component's CPU is the sum over its live processes plus what its leader has reaped
(cutime/cstime: backends that exited during the run). Figures are in "% of one core": 100 % = one core busy for the whole
window, so a 2-core machine tops out at 200 %.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass
class CpuSample:
    at: float                          # time.monotonic()
    components: dict[str, float]       # component -> CPU seconds consumed so far
    machine_busy: float                # CPU seconds, all cores, not idle or iowait
    machine_total: float               # CPU seconds, all cores, since boot
    # The postgresql component's CPU seconds by what each process serves (see _postgres_part);
    # part of components["postgresql"], not beside it.
    postgres_parts: dict[str, float] = field(default_factory=dict)


def _read_stat(pid: str) -> tuple[int, int, int, float, float] | None:
    """(pid, parent pid, session, own cpu seconds, reaped children's cpu seconds) of one process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # exited meanwhile
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[0] is field 3 (state) of proc(5): session is field 6, utime..cstime are 14..17.
    parent, session = int(fields[1]), int(fields[3])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return int(pid), parent, session, (utime + stime) / TICKS_PER_SECOND, (cutime + cstime) / TICKS_PER_SECOND


def _machine_times() -> tuple[float, float]:
    with open("/proc/stat") as stat:
        values = [int(x) for x in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return (total - idle) / TICKS_PER_SECOND, total / TICKS_PER_SECOND


class CpuMeter:
    """Samples the CPU seconds of the stack's components (name -> leader pid) and of itself."""

    def __init__(self, leaders: dict[str, int]) -> None:
        self.leaders = {pid: name for name, pid in leaders.items()}
        self.self_pid = os.getpid()

    def sample(self) -> CpuSample:
        processes = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _read_stat(entry)
                if stat is not None:
                    processes[stat[0]] = stat
        components = {name: 0.0 for name in self.leaders.values()}
        components["load generator"] = 0.0
        postgres_parts: dict[str, float] = {}
        for pid, (_, parent, session, own, reaped) in processes.items():
            if pid == self.self_pid:
                # With what it reaped: a load generator it runs (vegeta) exits before the sample.
                components["load generator"] += own + reaped
                continue
            name = self._component_of(pid, parent, session, processes)
            if name is None and parent == self.self_pid:
                name = "load generator"  # a load generator it runs, still running
            if name is None:
                continue
            components[name] += own
            if pid in self.leaders:
                components[name] += reaped
            if name == "postgresql":
                _add_postgres_part(postgres_parts, pid, own, reaped, postmaster=pid in self.leaders)
        busy, total = _machine_times()
        return CpuSample(time.monotonic(), components, busy, total, postgres_parts)

    def _component_of(self, pid: int, parent: int, session: int, processes: dict) -> str | None:
        if session in self.leaders:
            return self.leaders[session]
        for _ in range(4):  # leader -> child -> grandchild is as deep as the stack goes
            if pid in self.leaders:
                return self.leaders[pid]
            if parent not in processes:
                return None
            pid, parent = parent, processes[parent][1]
        return None


def _add_postgres_part(parts: dict[str, float], pid: int, own: float, reaped: float, *, postmaster: bool) -> None:
    """Count one PostgreSQL process's CPU seconds under what it serves: the postmaster's own under
    `server`, and what it reaped (its children that ended) under `exited`; any other process's
    under its part (`postgres_part`)."""
    part = "server" if postmaster else _postgres_part(pid)
    parts[part] = parts.get(part, 0.0) + own
    if postmaster:
        parts["exited"] = parts.get("exited", 0.0) + reaped


def _postgres_part(pid: int) -> str:
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "server"
    return postgres_part(title)


def postgres_part(title: str) -> str:
    """What a PostgreSQL process does, from the title it sets (`postgres: USER DATABASE HOST(PORT)
    STATE` for a backend, HOST(PORT) or [local]): its database without the `openrcm_` prefix,
    `autovacuum` for an autovacuum worker, `server` for the rest (WAL writer, checkpointer, I/O
    workers, the postmaster ...)."""
    words = title.split()
    if words[:3] == ["postgres:", "autovacuum", "worker"]:
        return "autovacuum"
    if len(words) >= 4 and words[0] == "postgres:" and ("(" in words[3] or words[3] == "[local]"):
        return words[2].removeprefix("openrcm_")
    return "server"


def usage_between(before: CpuSample, after: CpuSample) -> dict:
    """% of one core per component over the window, the whole machine, and what is not ours."""
    elapsed = after.at - before.at
    if elapsed <= 0:
        return {}
    per_component = {name: round(100 * (after.components[name] - before.components.get(name, 0.0)) / elapsed, 1)
                     for name in after.components}
    machine_busy = 100 * (after.machine_busy - before.machine_busy) / elapsed
    ours = sum(per_component.values())
    postgres = {part: round(100 * (seconds - before.postgres_parts.get(part, 0.0)) / elapsed, 1)
                for part, seconds in after.postgres_parts.items()}
    return {
        "window_seconds": round(elapsed, 2),
        "percent_of_one_core": per_component,
        # PostgreSQL's share above, by database served (backends), autovacuum and the server's own processes.
        "postgresql_by_part_percent_of_one_core": dict(sorted(postgres.items(), key=lambda item: -item[1])),
        "machine_busy_percent_of_one_core": round(machine_busy, 1),
        "machine_capacity_percent": 100 * (os.cpu_count() or 1),
        # Busy CPU outside the stack and the load generator: other work sharing the machine.
        "outside_stack_percent_of_one_core": round(max(0.0, machine_busy - ours), 1),
    }
