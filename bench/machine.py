"""What the figures were measured on: CPUs, memory, Python, load, and other load on the box."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe_machine() -> dict:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_total_gib(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "load_average_at_start": load_average(),
    }


def describe_one_line(machine: dict) -> str:
    return (f"{machine['nproc']} CPU ({machine['cpu_model']}), {machine['memory_gib']} GiB RAM, "
            f"Linux {machine['kernel']}, Python {machine['python']}, "
            f"load average at start {' '.join(str(x) for x in machine['load_average_at_start'])}")


def describe_code(repo: Path) -> dict:
    """The commit measured, and whether the service code differed from it (uncommitted changes)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    changed = git("status", "--porcelain", "--", "services", "shared", "deploy").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown", "uncommitted_service_changes": len(changed)}
