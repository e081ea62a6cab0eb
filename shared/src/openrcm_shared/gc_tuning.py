"""The cyclic garbage collector's settings for long-lived processes under load (a service, a
posting worker): one place, so every process is tuned alike."""

from __future__ import annotations

import gc

# Under load a process allocates fast, almost all of it freed by reference counting; with the
# default thresholds (700, 10, 10) the claims API still ran a full collection every 1.5 s at 300
# claims/s, and a posting worker walked its batch's objects every 700 allocations. Larger
# generations make young collections rarer and full ones rarer still; cyclic garbage waits a little.
GC_THRESHOLDS = (50_000, 20, 20)


def settle_after_start_up() -> None:
    """Call once start-up is over. What it built (modules, schemas, compiled statements, code
    sets) lives as long as the process: frozen, it is left out of every collection, which would
    otherwise walk it and stall the event loop meanwhile; then the thresholds above."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
