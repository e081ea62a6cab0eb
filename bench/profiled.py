"""Run a service's uvicorn under cProfile, for `python -m bench intake --profile SERVICE`.

    python -m bench.profiled OUTPUT.prof UVICORN-ARGS...

The profiler starts switched off: SIGUSR1 switches it on and SIGUSR2 off, so the profile covers
only the load the benchmark drives (not start-up's imports, nor shutdown). Its clock is the main
thread's CPU time (time.thread_time), so time the event loop sleeps waiting for I/O is not
counted and the profile shows where the CPU goes. The stats are written when uvicorn returns: on
SIGTERM it shuts down gracefully, then re-raises the signal to the handler it found, which here
ends the run with SystemExit instead of killing the process before the stats are written.

Profiling slows the service down several-fold: use it for proportions, never for the figures.
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
import time

START = signal.SIGUSR1
STOP = signal.SIGUSR2


def main() -> None:
    output = sys.argv[1]
    sys.argv = ["uvicorn", *sys.argv[2:]]
    profiler = cProfile.Profile(time.thread_time)
    signal.signal(START, lambda signum, frame: profiler.enable())
    signal.signal(STOP, lambda signum, frame: profiler.disable())
    signal.signal(signal.SIGTERM, _exit)
    try:
        runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(output)


def _exit(signum, frame) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    main()
