"""837P generation throughput of `openrcm_shared.x12.claim_837`, and pyx12's validation speed.

    uv run python -m bench.x12_837                      50,000 claims of 3 lines, files of 5,000
    uv run python -m bench.x12_837 --claims 10000 --validate-files 1

Single process, no I/O: the claim objects are made before the clock starts (in the claims service
they come from the database), then `build_837` renders them file by file. The validation figure
is pyx12 4.x through its Python API on a sample of the same files; it is reported for scale (a
test-time validator, not on the production path). Figures only, no assertions: see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

from openrcm_shared.x12.claim_837 import (
    Address, BillingProvider, ClaimBatch, Payer, ProfessionalClaim, ProfessionalServiceLine, Provider, Receiver,
    Submitter, Subscriber, build_837, envelope_counts,
)

TARGET_CLAIMS_PER_SECOND = 20_000

SUBMITTER = Submitter(name="OPENRCM BILLING", identifier="OPENRCM01", contact_name="CLAIMS DESK",
                      contact_phone="3055550100")
RECEIVER = Receiver(name="EXAMPLE CLEARINGHOUSE", identifier="CLEARHOUSE01")
CLINIC = BillingProvider(npi="1234567893", tax_id="123456789", name="SUNRISE FAMILY MEDICINE",
                         address=Address("100 MAIN ST", "MIAMI", "FL", "331111234"), taxonomy_code="207Q00000X")
RENDERING = Provider(npi="1245319599", last_name="KILDARE", first_name="JAMES", taxonomy_code="207R00000X")
PAYERS = (Payer(name="ACME HEALTH PLAN", payer_id="60054"), Payer(name="BLUE SAMPLE INSURANCE", payer_id="BSI01"))
PROCEDURES = (("99213", (), Decimal("125.00")), ("36415", (), Decimal("15.50")), ("81003", ("QW",), Decimal("12.25")),
              ("99214", ("25",), Decimal("180.00")), ("20610", ("RT",), Decimal("250.00")))
DIAGNOSES = ("E119", "I10", "E785", "J45909")


def synthetic_claims(count: int, lines_per_claim: int = 3, subscribers: int = 2_000) -> list[ProfessionalClaim]:
    """`count` three-line professional claims for `subscribers` distinct members (synthetic data)."""
    members = [
        Subscriber(member_id=f"W{number:09d}", last_name=f"PATIENT{number % 997}", first_name="ALEX",
                   birth_date=date(1950, 1, 1) + timedelta(days=number * 7 % 20_000), gender="FM"[number % 2],
                   address=Address(f"{number % 900 + 1} OAK AVE", "MIAMI", "FL", "33101"), group_number="GRP1001")
        for number in range(subscribers)
    ]
    claims = []
    for number in range(count):
        service_date = date(2026, 1, 1) + timedelta(days=number % 59)
        lines = tuple(
            ProfessionalServiceLine(procedure_code=code, modifiers=modifiers, charge=charge, service_date=service_date,
                                    diagnosis_pointers=(1, 2) if position == 0 else (1,),
                                    line_control_number=f"{number:09d}-{position + 1}")
            for position, (code, modifiers, charge) in enumerate(
                PROCEDURES[(number + k) % len(PROCEDURES)] for k in range(lines_per_claim)))
        claims.append(ProfessionalClaim(
            billing_provider=CLINIC, subscriber=members[number % subscribers], payer=PAYERS[number % 2],
            patient_control_number=f"BENCH{number:012d}", total_charge=sum((line.charge for line in lines), Decimal(0)),
            place_of_service="11", diagnosis_codes=DIAGNOSES[:2 + number % 3], lines=lines, rendering_provider=RENDERING,
            prior_authorization=None if number % 4 else f"AUTH{number:08d}"))
    return claims


def generate_files(claims: list[ProfessionalClaim], claims_per_file: int) -> tuple[list[str], float, float]:
    """Render the claims as interchanges of `claims_per_file` claims; (files, wall seconds, CPU seconds)."""
    files = []
    control = 1
    gc.collect()
    started = time.perf_counter()
    cpu_started = time.process_time()
    for start in range(0, len(claims), claims_per_file):
        batch = ClaimBatch(submitter=SUBMITTER, receiver=RECEIVER, claims=tuple(claims[start:start + claims_per_file]))
        groups, sets = envelope_counts(batch)
        files.append(build_837(
            batch, interchange_control_number=control, group_control_numbers=list(range(control, control + groups)),
            transaction_set_control_numbers=list(range(1, 1 + sets)), created_at=datetime(2026, 3, 2, 14, 5),
            usage_indicator="T"))
        control += 1
    return files, time.perf_counter() - started, time.process_time() - cpu_started


def validate_files(files: list[str]) -> tuple[int, float]:
    """pyx12 over the files; (error count, seconds)."""
    from tests.x12_validation import pyx12_errors  # pyx12 is a dev dependency

    started = time.perf_counter()
    errors = sum(len(pyx12_errors(text)) for text in files)
    return errors, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.x12_837", description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=50_000, help="claims to generate (default 50,000)")
    parser.add_argument("--lines", type=int, default=3, help="service lines per claim (default 3)")
    parser.add_argument("--claims-per-file", type=int, default=5_000, help="claims per interchange (default 5,000)")
    parser.add_argument("--validate-files", type=int, default=1,
                        help="how many of the generated files pyx12 validates (default 1; 0 skips)")
    parser.add_argument("--rounds", type=int, default=3, help="generation rounds; the median is reported (default 3)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the generation run")
    args = parser.parse_args(argv)

    from bench.machine import describe_machine, describe_one_line

    print(f"837P generation: {args.claims:,} claims x {args.lines} lines, {args.claims_per_file:,} claims per file")
    print(f"Machine: {describe_one_line(describe_machine())}")
    claims = synthetic_claims(args.claims, args.lines)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        generate_files(claims, args.claims_per_file)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    runs = []
    for _ in range(max(1, args.rounds)):
        files, wall, cpu = generate_files(claims, args.claims_per_file)
        runs.append((args.claims / wall, args.claims / cpu, wall))
    runs.sort()
    rate, cpu_rate, seconds = runs[len(runs) // 2]
    megabytes = sum(len(text) for text in files) / 1e6
    verdict = "meets" if rate >= TARGET_CLAIMS_PER_SECOND else "BELOW"
    print(f"generate  {rate:>10,.0f} claims/s  (median of {len(runs)} rounds: {seconds:.2f} s wall, "
          f"{cpu_rate:,.0f} claims per CPU second; best {runs[-1][0]:,.0f}/s; {len(files)} files, "
          f"{megabytes:.1f} MB; {verdict} the {TARGET_CLAIMS_PER_SECOND:,}/s target)")

    sample = files[:args.validate_files]
    if sample:
        sample_claims = sum(text.count("~CLM*") for text in sample)
        errors, seconds = validate_files(sample)  # includes loading pyx12's maps once
        print(f"pyx12     {sample_claims / seconds:>10,.0f} claims/s  ({seconds:.2f} s for {len(sample)} file(s), "
              f"{sample_claims:,} claims; {errors} errors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
