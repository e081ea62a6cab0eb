"""The denial categorization benchmark: denied lines categorized per second, one process, no I/O.

    uv run python -m bench.denial_categorization                 # 3 s
    uv run python -m bench.denial_categorization --seconds 1 --json .local/bench/denial_categorization.json

Lines are drawn (fixed seed) from every active CARC of the shipped mapping under the group codes a
remittance uses, a third with one or two RARCs (refinement candidates for CARC 16 and A1 among them),
one in twenty matched by a practice's payer override. The target (issue 15) is 20,000 lines/s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from openrcm_denials.domain.categories import Category, PayerOverride, categorizer

TARGET_LINES_PER_SECOND = 20_000
GROUPS = ("CO", "CO", "CO", "OA", "PI", "PR")
RARCS = ("M127", "M51", "N706", "N130", "MA130", "N115", "M15", "N657")


def denied_lines(count: int, seed: int = 15) -> list[tuple[str, str, tuple[str, ...], PayerOverride | None]]:
    rng = random.Random(seed)
    carcs = list(categorizer().rules) + ["16", "A1"] * 20  # the refinable codes, as often as remittances carry them
    override = PayerOverride(payer_id="60054", carc="50", category=Category.AUTHORIZATION)
    lines = []
    for _ in range(count):
        rarcs = tuple(rng.sample(RARCS, rng.choice((1, 2)))) if rng.random() < 1 / 3 else ()
        lines.append((rng.choice(GROUPS), rng.choice(carcs), rarcs, override if rng.random() < 0.05 else None))
    return lines


def run(seconds: float) -> dict:
    engine = categorizer()
    lines = denied_lines(50_000)
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for group, carc, rarcs, override in lines:
            engine.categorize(group, carc, rarcs, override)
        done += len(lines)
    rate = done / elapsed
    return {"benchmark": "denial_categorization", "mapping_version": engine.version, "lines": done,
            "seconds": round(elapsed, 3), "lines_per_second": round(rate), "target_lines_per_second":
            TARGET_LINES_PER_SECOND, "meets_target": rate >= TARGET_LINES_PER_SECOND}


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--seconds", type=float, default=3.0)
    options.add_argument("--json", type=Path)
    args = options.parse_args(argv)
    result = run(min(args.seconds, 60.0))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
