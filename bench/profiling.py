"""Profiling services under load: restart one under cProfile, then read where its CPU went.

The services normally run as `python -m uvicorn ...` started by devstack's start_service(); to
profile one, it is stopped and started again on the same port with the same environment, but
through bench.profiled. The restarted process is put back into the Stack, so Stack.stop() stops
it like any other service.
"""

from __future__ import annotations

import os
import pstats
import re
import sys
from collections import defaultdict
from pathlib import Path

from openrcm_devstack.paths import repo_root
from openrcm_devstack.process import ManagedProcess, ensure_port_free
from openrcm_devstack.services import RunningService, service_environment, uvicorn_arguments, wait_ready
from openrcm_devstack.stack import Stack


def restart_profiled(stack: Stack, name: str, output: Path) -> None:
    """Replace a running service process (`claims`, `claims-worker`, ...) by the same process under
    the profiler (blocking until ready)."""
    running = stack.services.pop(name)
    running.process.stop()
    ensure_port_free(name, running.port)
    # Same environment and uvicorn arguments as openrcm_devstack.services.start_service(), with
    # the stack's own per-service settings (claims: the clearinghouse URL and webhook secret;
    # without them a profiled claims service sent no 837s and got no 999/277CA webhooks).
    env = service_environment(running.spec, role=running.role, database_url=running.database_url,
                              system_database_url=stack.system_database_url(running.spec.name),
                              kafka_bootstrap=stack.kafka.bootstrap_servers,
                              extra_env=stack._service_env(running.spec, None))
    argv = [sys.executable, "-m", "bench.profiled", str(output), *uvicorn_arguments(running.spec, running.port)]
    process = ManagedProcess(name, argv, log_file=stack.state_dir / "logs" / f"{name}.profiled.log", env=env,
                             cwd=repo_root(), niceness=running.process.niceness)
    process.start()
    service = RunningService(running.spec, running.port, running.database_url, process, running.role)
    stack.services[name] = service
    wait_ready(service)


def signal_profilers(stack: Stack, names, signum: int) -> None:
    """Switch the profilers of the named (profiled) services on or off (see bench.profiled)."""
    for name in names:
        os.kill(stack.services[name].process.pid, signum)


# --- reading the stats ---------------------------------------------------------------------------

_SITE = re.compile(r"site-packages/([^/]+)")
_OWN = re.compile(r"/(openrcm_[a-z]+)/")
_STDLIB = re.compile(r"/lib/python3\.\d+/([^/]+)")
_C_METHOD = re.compile(r"<method '[^']*' of '([\w]+)\.")        # <method 'execute' of 'asyncpg.x.Y' objects>
_C_FUNCTION = re.compile(r"<built-in method ([\w]+)\.")          # <built-in method _json.encode_basestring>


def package_of(filename: str, function: str) -> str:
    """Which library a profiled function belongs to (C functions by the type or module they are on)."""
    if filename == "~":
        match = _C_METHOD.search(function) or _C_FUNCTION.search(function)
        return f"{match.group(1).lstrip('_') if match else 'builtins'} (C)"
    for pattern, label in ((_SITE, "{}"), (_OWN, "{}"), (_STDLIB, "stdlib {}")):
        match = pattern.search(filename)
        if match:
            return label.format(match.group(1).removesuffix(".py"))
    return "other"


def summarize_profile(path: Path, *, top: int = 20) -> dict:
    """CPU share per library and the functions with the most own CPU time (tottime).

    Cumulative times are left out: with coroutines, cProfile counts each resumption as a call
    and nests them oddly, so cumulative figures of async code are not meaningful."""
    stats = pstats.Stats(str(path))
    total = stats.total_tt or 1e-9
    per_package: dict[str, float] = defaultdict(float)
    functions = []
    for (filename, line, function), (_, calls, own, _, _) in stats.stats.items():
        per_package[package_of(filename, function)] += own
        functions.append((own, calls, f"{_short(filename)}:{line}({function})"))
    functions.sort(reverse=True)
    return {
        "file": str(path),
        "cpu_seconds_profiled": round(total, 2),
        "by_package_percent": {name: round(100 * seconds / total, 1)
                               for name, seconds in sorted(per_package.items(), key=lambda kv: -kv[1])
                               if 100 * seconds / total >= 0.5},
        "top_functions": [{"own_percent": round(100 * own / total, 1), "calls": calls, "function": name}
                          for own, calls, name in functions[:top]],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
