"""Run a service's uvicorn under cProfile, for `python -m bench intake --profile SERVICE`.

    python -m bench.profiled OUTPUT.prof UVICORN-ARGS...

The profiler's clock is the main thread's CPU time (time.thread_time), so the time the event loop
sleeps waiting for I/O is not counted and the profile shows where the CPU goes. The stats are
written when uvicorn returns (SIGTERM makes it shut down gracefully). Profiling slows the service
down several-fold: use it for proportions, never for the benchmark's figures.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    output = sys.argv[1]
    sys.argv = ["uvicorn", *sys.argv[2:]]
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    try:
        runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(output)


if __name__ == "__main__":
    main()
