"""How long the X12 reader takes on hostile input: every shape should cost time linear in its size.

    uv run python -m bench.x12_hostile               64 MiB per shape
    uv run python -m bench.x12_hostile --mib 8 --rounds 1

Single process, no I/O: each input is built in memory before the clock starts, then read with
`X12Reader` (the tokenizer under every X12 parser) to its end or to the error that refuses it. A
well-formed 835 (bench.x12_835's synthetic ERA, parsed and balanced) is the reference for what
reading costs per megabyte. Figures only, no assertions: the unit tests check the behaviour
(what is refused, and why), this reports the time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from openrcm_shared.x12.reader import X12Error, X12Reader

_ISA = ("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260101*1200*^*00501*000000001*0*P*:~")
_GS = "GS*HP*SENDER*RECEIVER*20260101*1200*1*X*005010X221A1~"
_EMPTY_INTERCHANGE = _ISA + "IEA*0*000000001~"
_OTHER_TERMINATOR = _EMPTY_INTERCHANGE.replace("~", "!")


def _repeat(unit: str, size: int) -> bytes:
    return (unit * max(1, size // len(unit))).encode()


def hostile_inputs(size: int) -> dict[str, Callable[[], object]]:
    """Name -> a function returning the input (built before timing starts)."""
    return {
        "no segment terminator after the ISA": lambda: (_ISA + _GS[:5] + "A" * size).encode(),
        "only whitespace after the ISA": lambda: (_ISA + " \r\n" * (size // 3)).encode(),
        "empty interchanges, one terminator": lambda: _repeat(_EMPTY_INTERCHANGE, size),
        "empty interchanges, terminators alternating": lambda: _repeat(_EMPTY_INTERCHANGE + _OTHER_TERMINATOR, size),
        "empty interchanges, handed over as one piece": lambda: [_repeat(_EMPTY_INTERCHANGE, size)],
    }


def read_to_end(source) -> str:
    """Read every segment; the outcome as text (segments read, or the refusal)."""
    read = 0
    try:
        for _segment in X12Reader(source):
            read += 1
    except X12Error as refused:
        return f"refused after {read:,} segments: {refused}"
    return f"read {read:,} segments"


def measure(build: Callable[[], object], rounds: int) -> tuple[float, float, str, int]:
    """(best wall seconds, best CPU seconds, outcome, input bytes) over `rounds` readings."""
    source = build()
    size = len(source[0]) if isinstance(source, list) else len(source)
    best_wall = best_cpu = float("inf")
    outcome = ""
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        outcome = read_to_end(source)
        best_wall, best_cpu = min(best_wall, time.perf_counter() - wall), min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, outcome, size


def reference_835(size: int, rounds: int) -> tuple[float, int]:
    """Best CPU seconds to parse and balance a well-formed 835 of about `size` bytes, and its size."""
    from bench.x12_835 import parse_and_balance, synthetic_835

    claims = max(100, size // 350)  # ~350 bytes per claim of two lines
    data = b"".join(synthetic_835(claims))
    best = float("inf")
    for _ in range(rounds):
        cpu = time.process_time()
        parse_and_balance(data)
        best = min(best, time.process_time() - cpu)
    return best, len(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.x12_hostile", description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="size of each hostile input in MiB (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="readings per input; the best is reported (default 3)")
    options = parser.parse_args(argv)
    size = options.mib << 20
    print(f"X12Reader on hostile input, {options.mib} MiB each, best of {options.rounds}")
    for name, build in hostile_inputs(size).items():
        wall, cpu, outcome, length = measure(build, options.rounds)
        rate = "refused" if outcome.startswith("refused") else f"{length / cpu / 2**20:7.1f} MiB/s"
        print(f"  {name:46s} {wall * 1000:9.1f} ms wall {cpu * 1000:9.1f} ms CPU  {rate:>12s}  {outcome[:100]}")
    cpu, length = reference_835(size, options.rounds)
    print(f"  {'reference: well-formed 835, parsed and balanced':46s} {'':18s} {cpu * 1000:9.1f} ms CPU  "
          f"{length / cpu / 2**20:7.1f} MiB/s  ({length / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
