"""How fast this machine's cores are right now: a fixed piece of Python work, timed in CPU time.

On a shared virtual machine the same code and the same load can cost a third more CPU from one
minute to the next (another tenant on the host, a sibling hyperthread, the clock), and nothing in
the guest accounts for it: the steal column of /proc/stat stays near zero. The benchmarks run
this probe so a figure can be told apart from the host it was taken on:

- before the stack starts and after it stops (a quiet machine: the host's speed alone);
- during each measured run, one round every few seconds (then the machine's own load, which evicts
  the caches and shares the cores, adds to it).

The work is what the services spend their CPU on, in miniature: building and reading JSON,
exact decimal arithmetic, regular expressions, dicts and strings. Its figure is CPU milliseconds
per round (lower is faster); only figures from this same probe compare.

    python -m bench.host_speed                 7 rounds, median / min / max ms of CPU
    python -m bench.host_speed --every 2       one round every 2 s until stopped: seconds since start, ms
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from decimal import Decimal

_CODE = re.compile(r"^[A-Z0-9]{5}$")
_ITERATIONS = 400  # ~25 ms of CPU a round on the benchmark machine


def _one_claim(number: int) -> int:
    lines = [{"procedure_code": f"{99200 + (number + i) % 15:05d}", "units": str(1 + i % 3),
              "charge_amount": f"{100 + (number * 7 + i) % 900}.{i * 11 % 100:02d}", "modifiers": ["25"] * (i % 2)}
             for i in range(6)]
    encounter = {"encounter_id": f"E-{number:08d}", "patient": {"name": f"PATIENT {number}", "born": "1974-06-01"},
                 "diagnosis_codes": ["E11.9", "I10", "Z00.00"], "lines": lines}
    parsed = json.loads(json.dumps(encounter, separators=(",", ":")), parse_float=Decimal)
    total = sum((Decimal(line["charge_amount"]) * Decimal(line["units"]) for line in parsed["lines"]), Decimal(0))
    valid = sum(1 for line in parsed["lines"] if _CODE.match(line["procedure_code"]))
    summary = ",".join(f"{key}={value}" for key, value in sorted(parsed["patient"].items()))
    return int(total) + valid + len(summary)


def one_round() -> float:
    """CPU milliseconds of one round of the fixed work."""
    started = time.process_time()
    checksum = 0
    for number in range(_ITERATIONS):
        checksum += _one_claim(number)
    if checksum <= 0:  # keeps the work from being anything but what it says
        raise AssertionError("probe checksum")
    return (time.process_time() - started) * 1000


def summarize(rounds: list[float]) -> dict:
    if not rounds:
        return {}
    return {"rounds": len(rounds), "median_ms": round(statistics.median(rounds), 1),
            "min_ms": round(min(rounds), 1), "max_ms": round(max(rounds), 1)}


def _timed_rounds(output: str) -> list[tuple[float, float]]:
    """(seconds since the probe started, CPU ms) of each line `--every` printed."""
    rounds = []
    for line in output.splitlines():
        parts = line.split()
        try:
            rounds.append((float(parts[0]), float(parts[1])))
        except (IndexError, ValueError):
            continue  # a line cut short when the probe was stopped
    return rounds


def probe(rounds: int = 7) -> dict:
    """The probe in a process of its own (nothing else of the caller's runs in it): median, min and
    max CPU ms of `rounds` rounds, after one unreported round to warm it up."""
    done = subprocess.run([sys.executable, "-m", "bench.host_speed", "--rounds", str(rounds)],
                          capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr.strip()[-300:]}


class ProbeDuringRun:
    """One probe round every `every` seconds in a process of its own, from `start()` to `stop()`
    (about 1 % of a core at the default)."""

    def __init__(self, every: float = 3.0) -> None:
        self.every = every
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "bench.host_speed", "--every", str(self.every)],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def stop(self) -> dict:
        if self.process is None:
            return {}
        self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        self.process = None
        rounds = _timed_rounds(out)
        summary = summarize([ms for _, ms in rounds])
        if summary:  # each round by when it ran, to set beside the run's timeline
            summary["by_second"] = [[round(at, 1), round(ms, 1)] for at, ms in rounds]
        return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.host_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds to time (default 7)")
    parser.add_argument("--every", type=float, default=0.0,
                        help="seconds between rounds, printing each until stopped (default: no, time --rounds)")
    options = parser.parse_args(argv)
    started = time.monotonic()
    one_round()  # warm-up: imports, caches
    if options.every > 0:
        while True:
            at = time.monotonic() - started
            print(f"{at:.2f} {one_round():.2f}", flush=True)
            time.sleep(options.every)
    print(json.dumps(summarize([one_round() for _ in range(options.rounds)])))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
