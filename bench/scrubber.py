"""The scrubber benchmark: claims scrubbed per second, single process, no I/O.

    uv run python -m bench.scrubber                 # 5 s per workload
    uv run python -m bench.scrubber --seconds 2 --json .local/bench/scrubber.json

Code sets: the shipped ones (ICD-10-CM from the packages, POS, modifiers) plus the synthetic NCCI
PTP, MUE and HCPCS extracts, so every rule runs. A pool of 2,000 distinct synthetic claims (real
FY2026 ICD-10-CM codes, NPIs with valid check digits) is cycled through. Workloads:
- typical: 3-line 837P claims that pass every rule;
- mixed: one claim in four carries one or two errors (the error paths build messages);
- wide: 20-line claims (the NCCI pair check is quadratic in the lines of a date).
The ICD-10-CM release is loaded before timing (a one-off cost per process, also reported).
The target (the brief for the engine) is at least 5,000 claims/s for the typical workload.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

from openrcm_claims.domain.scrubber import (
    RULE_SET_VERSION, CodeSets, ScrubClaim, ScrubLine, ScrubPayer, ScrubProvider, list_rules, load_hcpcs_file,
    load_mue_files, load_ptp_files, scrub,
)

TARGET_CLAIMS_PER_SECOND = 5_000
TODAY = date(2026, 9, 1)
NPIS = ("1234567893", "1245319599")
PROCEDURES = ("99213", "99214", "36415", "93000", "81002", "85025", "80053", "G0439", "J1100", "71046")
MODIFIERS = ((), (), (), ("25",), ("59",), ("RT",), ("GA",))


class AllEnrolled:
    def is_enrolled(self, npi: str, payer_id: str, on: date) -> bool:
        return True


def _synthetic(name: str) -> str:
    return str(files("openrcm_claims.domain.scrubber").joinpath(f"data/synthetic/{name}"))


def load_code_sets() -> tuple[CodeSets, float]:
    started = time.perf_counter()
    code_sets = CodeSets.shipped(
        hcpcs=load_hcpcs_file(_synthetic("hcpcs_anweb_synthetic.txt"), label="synthetic"),
        ptp_practitioner=load_ptp_files(_synthetic("ncci_ptp_practitioner_synthetic.txt"), label="synthetic"),
        mue_practitioner=load_mue_files(_synthetic("mue_practitioner_synthetic.csv"), label="synthetic"))
    code_sets.icd10cm.release_for(TODAY)  # load the release the claims need
    code_sets.icd10cm.release(code_sets.icd10cm.index_for(TODAY)[0]).headers
    return code_sets, time.perf_counter() - started


def make_claims(code_sets: CodeSets, count: int, lines_per_claim: int, error_share: float, seed: int = 7) -> list[ScrubClaim]:
    rng = random.Random(seed)
    diagnoses = sorted(code_sets.icd10cm.release_for(TODAY).billable)
    payer = ScrubPayer("60054", "Synthetic Health Plan", 365, True, frozenset({"professional"}))
    billing = ScrubProvider("1234567893", "123456789", "Synthetic Clinic", "100 Main Street", "Springfield", "IL", "627011234")
    rendering = ScrubProvider("1245319599", None, "Synthetic Doctor", None, None, None, None)
    claims = []
    for number in range(count):
        day = TODAY - timedelta(days=rng.randint(1, 60))
        codes = tuple(rng.sample(diagnoses, rng.randint(1, 4)))
        lines = []
        for position in range(lines_per_claim):
            # distinct codes per claim, so no (synthetic) PTP or MUE edit fires on a clean claim
            code = PROCEDURES[(number + position) % len(PROCEDURES)] if lines_per_claim <= len(PROCEDURES) else "99213"
            pointers = tuple(range(1, min(len(codes), 4) + 1))
            lines.append(ScrubLine(position + 1, code, rng.choice(MODIFIERS), Decimal(1),
                                   Decimal(rng.randint(20, 300)) + Decimal("0.00"), day, None, None, pointers))
        if lines_per_claim > len(PROCEDURES):  # wide claims: spread the dates so no MUE fires
            lines = [replace(line, service_date=day - timedelta(days=i)) for i, line in enumerate(lines)]
        total = sum((line.charge_amount for line in lines), Decimal(0))
        claim = ScrubClaim("professional", f"R{number:016d}", total, billing, rendering, None, f"SYN{number:07d}",
                           "Testperson", date(1960, 1, 1), payer, codes, "11", tuple(lines))
        if rng.random() < error_share:
            kind = rng.randrange(4)
            if kind == 0:
                claim = replace(claim, diagnosis_codes=("E11",) + codes[1:])
            elif kind == 1:
                claim = replace(claim, total_charge=total + 1)
            elif kind == 2:
                claim = replace(claim, billing_provider=replace(billing, address_line1="PO Box 12", npi="1234567890"))
            else:
                claim = replace(claim, lines=(replace(claim.lines[0], modifiers=("ZZ", "25", "25")),) + claim.lines[1:])
        claims.append(claim)
    return claims


def measure(code_sets: CodeSets, claims: list[ScrubClaim], seconds: float) -> dict:
    enrollments = AllEnrolled()
    for claim in claims[:200]:  # warm-up
        scrub(claim, today=TODAY, code_sets=code_sets, enrollments=enrollments)
    done = blocked = 0
    gc.collect()
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for claim in claims:
            if scrub(claim, today=TODAY, code_sets=code_sets, enrollments=enrollments).blocked:
                blocked += 1
        done += len(claims)
        if time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - started
    return {"claims": done, "seconds": round(elapsed, 3), "claims_per_second": round(done / elapsed),
            "microseconds_per_claim": round(elapsed / done * 1e6, 1), "blocked_share": round(blocked / done, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scrubber", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per workload (default 5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args(argv)

    code_sets, load_seconds = load_code_sets()
    workloads = {
        "typical (3 lines, clean)": make_claims(code_sets, 2000, 3, 0.0),
        "mixed (3 lines, 25% with errors)": make_claims(code_sets, 2000, 3, 0.25),
        "wide (20 lines, clean)": make_claims(code_sets, 500, 20, 0.0),
    }
    results = {"rule_set_version": RULE_SET_VERSION, "rules": len(list_rules()), "python": sys.version.split()[0],
               "code_set_load_seconds": round(load_seconds, 2), "workloads": {}}
    try:
        from bench.machine import describe_machine, describe_one_line
        machine = describe_machine()
        results["machine"] = machine
        print(describe_one_line(machine))
    except Exception:  # the machine description is informative only
        pass
    print(f"rule set {RULE_SET_VERSION}, {results['rules']} rules; code sets loaded in {load_seconds:.2f} s")
    print(f"{'workload':36} {'claims/s':>10} {'us/claim':>9} {'blocked':>8}")
    for name, claims in workloads.items():
        figures = measure(code_sets, claims, options.seconds)
        results["workloads"][name] = figures
        print(f"{name:36} {figures['claims_per_second']:>10,} {figures['microseconds_per_claim']:>9} "
              f"{figures['blocked_share']:>8.1%}")
    typical = results["workloads"]["typical (3 lines, clean)"]["claims_per_second"]
    verdict = "meets" if typical >= TARGET_CLAIMS_PER_SECOND else "MISSES"
    print(f"typical claim: {typical:,} claims/s {verdict} the target of {TARGET_CLAIMS_PER_SECOND:,}/s")
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(results, indent=2))
    return 0 if typical >= TARGET_CLAIMS_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
