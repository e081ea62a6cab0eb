"""Child processes the stack owns: started in their own process group, stopped with their children."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


# On one shared machine the CPU goes first to the processes answering requests as they arrive
# (a service's `api` process: the claims API, which EHRs wait on, and PostgreSQL, which it writes
# to). Background work (a `worker` process, a service run as `all`, whose load is the event
# stream, and the Kafka broker, which no request waits on) runs at lower priority: it still gets
# every idle cycle, and waits, instead of the EHR, when the cores are contended (measured in
# session 7 in the git history of docs/benchmarks.md). Deployments say the same with their own tools (compose:
# cpu_shares; Kubernetes: CPU requests).
BACKGROUND_NICENESS_VARIABLE = "OPENRCM_BACKGROUND_NICE"
# 6 (a weight of 272 against the API's 1024, about a quarter): measured at 300 claims/s, nice 10
# (a ninth) kept the API's p99 at 40-120 ms but left the claims worker, the remittance consumer
# and the bookkeeping consumers a few thousand events behind by the end of a minute (end-to-end
# p99 3.5-14 s); nice 4 gave the API too little (p99 77-431 ms, 503s); docs/benchmarks.md, "intake".
DEFAULT_BACKGROUND_NICENESS = 6


def background_niceness() -> int:
    """`OPENRCM_BACKGROUND_NICE` (0-19; 0: every process at the same priority), default 6."""
    raw = os.environ.get(BACKGROUND_NICENESS_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_BACKGROUND_NICENESS
    if not raw.isdigit() or int(raw) > 19:
        raise ValueError(f"{BACKGROUND_NICENESS_VARIABLE} must be a whole number from 0 to 19, not {raw!r}")
    return int(raw)


def autogroup_niceness(pid: int) -> int | None:
    """The niceness of the scheduler autogroup `pid` is in; None where the kernel has none."""
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def set_autogroup_niceness(pid: int, niceness: int, *, attempts: int = 20) -> bool:
    """Give the autogroup of `pid` (the session it leads) the same lower priority as the process.

    Why: Linux with autogroup scheduling (CONFIG_SCHED_AUTOGROUP, on unless `noautogroup`) shares
    the CPU fairly between sessions first, and a process's own niceness only counts against others
    of its session (sched(7), "The autogroup feature"). Each managed process leads a session of
    its own, so without this a `nice`d worker still got as much CPU as the claims API whenever
    both wanted it (measured: the API waited 10-40 ms per 20 ms for a core during the claims
    worker's once-a-second submission round). The kernel refuses unprivileged writes more often
    than every 100 ms (EAGAIN), hence the retries. False where there are no autogroups."""
    path = Path(f"/proc/{pid}/autogroup")
    for _ in range(attempts):
        try:
            path.write_text(str(niceness))
            return True
        except BlockingIOError:
            time.sleep(0.11)
        except OSError:
            return False
    return False


class ManagedProcess:
    def __init__(self, name: str, argv: list[str], *, log_file: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None, user: str | None = None, stop_signal: int = signal.SIGTERM,
                 niceness: int = 0) -> None:
        self.name = name
        self.argv = argv
        self.log_file = log_file
        self.env = env
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self.niceness = niceness  # > 0: started with that much lower CPU priority (POSIX `nice`)
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "ab")
        # Through `nice` rather than a preexec_fn (not safe with threads in this process): the
        # child and every thread it starts have the lower priority from its first instruction.
        argv = ["nice", "-n", str(self.niceness), *self.argv] if self.niceness else self.argv
        self.popen = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env, cwd=self.cwd,
            user=self.user, start_new_session=True)
        log.close()
        if self.niceness:
            set_autogroup_niceness(self.popen.pid, self.niceness)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """Signal the process group, wait, then kill what is left."""
        if not self.popen:
            return
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, self.stop_signal)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.popen = None

    def kill(self) -> None:
        if self.popen and self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(process: ManagedProcess, host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if not process.running():
            raise RuntimeError(f"{process.name} exited during start-up:\n{process.tail()}")
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not open {host}:{port} within {timeout:.0f}s:\n{process.tail()}")


def ensure_port_free(name: str, port: int) -> None:
    if port_open("127.0.0.1", port):
        raise RuntimeError(f"port {port} for {name} is already in use on 127.0.0.1; stop what holds it "
                           f"or choose another port")
