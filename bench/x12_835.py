"""835 parse + balance throughput of `openrcm_shared.x12`, and its memory at two file sizes.

    uv run python -m bench.x12_835                      100,000 claims of 2 lines in one transaction
    uv run python -m bench.x12_835 --claims 20000 --rounds 1 --profile

Single process, no I/O: the synthetic 835 is rendered into memory before the clock starts, then
`stream_835` reads it in chunks and `RemittanceBalancer` balances every line, claim and the
transaction. Memory is measured separately, in fresh processes (peak RSS), while the file is
generated on the fly, so the figure is the parser's own peak and not the file's size: streamed, it
should be the same for 10,000 and 100,000 claims. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from openrcm_shared.x12.balancing import RemittanceBalancer
from openrcm_shared.x12.remittance_835 import parse_835, stream_835

TARGET_CLAIMS_PER_SECOND = 50_000

_CENT = Decimal("0.01")
# (procedure composite, line charge): a family-medicine mix.
_PROCEDURES = (("HC:99213", Decimal("125.00")), ("HC:36415", Decimal("15.50")), ("HC:81003:QW", Decimal("12.25")),
               ("HC:99214:25", Decimal("180.00")), ("HC:20610:RT", Decimal("250.00")))
_FIRST_SERVICE_DATE = date(2026, 1, 5)


@dataclass
class SyntheticTotals:
    """What the generator wrote, tallied independently of the parser (for tests and the report)."""

    claims: int = 0
    service_lines: int = 0
    transactions: int = 0
    total_claim_payment: Decimal = Decimal(0)  # sum of CLP04
    total_provider_adjustment: Decimal = Decimal(0)  # sum of PLB amounts
    total_payment: Decimal = Decimal(0)  # sum of BPR02
    bytes: int = 0


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def _line_money(charge: Decimal, denied: bool) -> tuple[Decimal, Decimal, Decimal, list[str]]:
    """(allowed, coinsurance, paid, CAS segments) of one line: 80% allowed, 20% coinsurance."""
    if denied:
        return Decimal(0), Decimal(0), Decimal(0), [f"CAS*CO*50*{charge}"]
    allowed = _cents(charge * Decimal("0.8"))
    coinsurance = _cents(allowed * Decimal("0.2"))
    return allowed, coinsurance, allowed - coinsurance, [f"CAS*CO*45*{charge - allowed}", f"CAS*PR*2*{coinsurance}"]


# The money of every (procedure, denied) pair, worked out once: generation is then string formatting.
_LINE_MONEY = {(index, denied): _line_money(charge, denied)
               for index, (_procedure, charge) in enumerate(_PROCEDURES) for denied in (False, True)}
_SERVICE_DATES = [(_FIRST_SERVICE_DATE + timedelta(days=offset)).strftime("%Y%m%d") for offset in range(60)]


def _is_denied(number: int) -> bool:
    return number % 25 == 24  # every 25th claim is denied: CO-50, nothing paid


def _claim_paid(number: int, lines_per_claim: int) -> Decimal:
    """CLP04 of synthetic claim `number`, without rendering it."""
    denied = _is_denied(number)
    return sum((_LINE_MONEY[(number + position) % len(_PROCEDURES), denied][2] for position in range(lines_per_claim)),
               Decimal(0))


def patient_control_number(number: int) -> str:
    """CLP01 of synthetic claim `number` (what our CLM01 would have been)."""
    return f"BENCH{number:012d}"


def billed_lines(number: int, lines_per_claim: int) -> list[dict]:
    """The lines we billed for synthetic claim `number`, as ClaimSubmitted states them (what the
    remittance service's expected_claims holds), so its 835 claim matches line by line."""
    service_date = _SERVICE_DATES[number % 60]
    iso = f"{service_date[:4]}-{service_date[4:6]}-{service_date[6:]}"
    lines = []
    for position in range(lines_per_claim):
        composite, charge = _PROCEDURES[(number + position) % len(_PROCEDURES)]
        _qualifier, code, *modifiers = composite.split(":")
        lines.append({"line_number": position + 1, "procedure_code": code, "modifiers": modifiers, "units": 1,
                      "charge_amount": str(charge), "service_date": iso})
    return lines


def _claim_segments(number: int, lines_per_claim: int) -> list[str]:
    """The 2100/2110 segments of synthetic claim `number`, balanced by construction."""
    service_date = _SERVICE_DATES[number % 60]
    denied = _is_denied(number)
    lines, charge_total, paid_total, patient_total = [], Decimal(0), Decimal(0), Decimal(0)
    for position in range(lines_per_claim):
        index = (number + position) % len(_PROCEDURES)
        procedure, charge = _PROCEDURES[index]
        allowed, coinsurance, paid, adjustments = _LINE_MONEY[index, denied]
        lines += [f"SVC*{procedure}*{charge}*{paid}**1", f"DTM*472*{service_date}", *adjustments,
                  f"REF*6R*{number:09d}-{position + 1}", f"AMT*B6*{allowed}"]
        if denied:
            lines.append("LQ*HE*N130")
        charge_total += charge
        paid_total += paid
        patient_total += coinsurance
    claim = [f"CLP*{patient_control_number(number)}*{4 if denied else 1}*{charge_total}*{paid_total}*{patient_total}*12"
             f"*PAYER{number:013d}*11*1",
             f"NM1*QC*1*PATIENT{number % 997}*ALEX****MI*W{number:09d}",
             f"DTM*232*{service_date}"]
    return claim + lines


def synthetic_835(claims: int, *, lines_per_claim: int = 2, claims_per_transaction: int | None = None,
                  totals: SyntheticTotals | None = None, claims_per_chunk: int = 500) -> Iterator[bytes]:
    """A balanced 835 interchange of `claims` claims as byte chunks, generated lazily.

    One ISA/GS; one ST..SE per `claims_per_transaction` claims (all in one by default), each with a
    PLB (an interest payment, a negative amount) so the transaction balancing includes PLB. Every
    25th claim is denied (CO-50 with an LQ*HE remark). Pass `totals` to receive the tallies.
    """
    totals = totals if totals is not None else SyntheticTotals()
    per_transaction = claims_per_transaction or max(claims, 1)
    header = ("ISA*00*          *00*          *ZZ*ACMEHEALTH     *ZZ*OPENRCM01      *260302*1405*^*00501"
              "*000000101*0*T*:~GS*HP*ACMEHEALTH*OPENRCM01*20260302*1405*101*X*005010X221A1~")
    yield header.encode()
    totals.bytes += len(header)
    transactions = 0
    for start in range(0, claims, per_transaction):
        transactions += 1
        numbers = range(start, min(start + per_transaction, claims))
        # BPR02 comes first but sums the whole transaction: a first pass adds up CLP04 without
        # keeping any text, so even a 100,000-claim transaction is generated in flat memory.
        paid = sum((_claim_paid(number, lines_per_claim) for number in numbers), Decimal(0))
        interest = Decimal("-1.27")  # PLB L6 interest: a negative adjustment increases the payment
        payment = paid - interest
        head = [f"ST*835*{transactions:04d}", f"BPR*I*{payment}*C*ACH*CCP*01*011000015*DA*123456789*1512345678"
                f"**01*021000021*DA*987654321*20260302", f"TRN*1*EFT{transactions:08d}*1512345678",
                "DTM*405*20260302", "N1*PR*ACME HEALTH PLAN", "N3*1 INSURANCE WAY", "N4*HARTFORD*CT*06101",
                "PER*BL*EDI DESK*TE*8005550100", "N1*PE*SUNRISE FAMILY MEDICINE*XX*1234567893",
                "REF*TJ*123456789"]
        segment_count = len(head) + 1  # + SE
        pending = head
        for number in numbers:
            segments = _claim_segments(number, lines_per_claim)
            if number == start or number % 100 == 0:
                pending.append(f"LX*{number // 100 + 1}")  # loop 2000: one header number per 100 claims
                segment_count += 1
            pending += segments
            segment_count += len(segments)
            totals.claims += 1
            totals.service_lines += lines_per_claim
            if len(pending) >= claims_per_chunk * 4:
                text = "~".join(pending) + "~"
                yield text.encode()
                totals.bytes += len(text)
                pending = []
        pending.append(f"PLB*1234567893*20261231*L6:INT{transactions:06d}*{interest}")
        segment_count += 1
        text = "~".join(pending) + f"~SE*{segment_count}*{transactions:04d}~"
        yield text.encode()
        totals.bytes += len(text)
        totals.transactions += 1
        totals.total_claim_payment += paid
        totals.total_provider_adjustment += interest
        totals.total_payment += payment
    trailer = f"GE*{transactions}*101~IEA*1*000000101~\n"
    yield trailer.encode()
    totals.bytes += len(trailer)


def parse_and_balance(source) -> tuple[int, int]:
    """Stream every transaction of `source`, balancing as it goes; (claims, differences)."""
    claims = differences = 0
    for stream in stream_835(source):
        balancer = RemittanceBalancer()
        for claim in stream.claims:
            balancer.add_claim(claim)
        differences += len(balancer.finish(stream.remittance))
        claims += balancer.claim_count
    return claims, differences


def measure_throughput(data: bytes) -> tuple[int, float, float]:
    """(claims, wall seconds, CPU seconds) of one parse+balance pass over `data`."""
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    claims, differences = parse_and_balance(io.BytesIO(data))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if differences:
        raise SystemExit(f"the synthetic 835 should balance; {differences} differences")
    return claims, wall, cpu


def measure_bare_split(data: bytes, claims: int) -> float:
    """Claims/s of a bare decode + split-on-delimiters loop over `data`: the floor a Python
    tokenizer cannot beat, for scale (no validation, no model, no balancing)."""
    gc.collect()
    started = time.perf_counter()
    for segment in data.decode().split("~"):
        segment.strip().split("*")
    return claims / (time.perf_counter() - started)


def measure_peak_memory(claims: int, lines_per_claim: int, claims_per_transaction: int | None,
                        eager: bool = False) -> tuple[int, int]:
    """(peak resident bytes while parsing, resident bytes before) of a fresh process that parses and
    balances a synthetic 835 generated on the fly, so the input is never whole in memory and the
    growth is the parser's. `eager` uses parse_835, which holds each transaction's claims."""
    command = [sys.executable, "-m", "bench.x12_835", "--memory-child", str(claims), "--lines", str(lines_per_claim)]
    if claims_per_transaction:
        command += ["--claims-per-transaction", str(claims_per_transaction)]
    if eager:
        command.append("--eager")
    child = subprocess.run(command, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                           check=True)
    peak, baseline = (int(value) for value in child.stdout.split())
    return peak, baseline


def _resident_bytes() -> int:
    # Current RSS from /proc (Linux). Not ru_maxrss: a child's high-water mark starts at its
    # parent's size (Linux carries it across fork and exec), which would hide the parser's own peak.
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _memory_child(claims: int, lines_per_claim: int, claims_per_transaction: int | None, eager: bool) -> None:
    """Print peak and starting RSS in bytes, sampling every 1,000 claims (and after each transaction)."""
    gc.collect()
    baseline = peak = _resident_bytes()
    source = synthetic_835(claims, lines_per_claim=lines_per_claim, claims_per_transaction=claims_per_transaction)
    if eager:
        for remittance in parse_835(source):
            peak = max(peak, _resident_bytes())
            del remittance
    else:
        for stream in stream_835(source):
            balancer = RemittanceBalancer()
            for claim in stream.claims:
                balancer.add_claim(claim)
                if balancer.claim_count % 1_000 == 0:
                    peak = max(peak, _resident_bytes())
            balancer.finish(stream.remittance)
    print(max(peak, _resident_bytes()), baseline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.x12_835", description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=100_000, help="claims in the timed file (default 100,000)")
    parser.add_argument("--lines", type=int, default=2, help="service lines per claim (default 2)")
    parser.add_argument("--claims-per-transaction", type=int, default=None,
                        help="claims per ST..SE (default: all in one transaction)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds; the median is reported (default 3)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one parse+balance pass")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--memory-child", type=int, metavar="CLAIMS", help=argparse.SUPPRESS)
    parser.add_argument("--eager", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        _memory_child(args.memory_child, args.lines, args.claims_per_transaction, args.eager)
        return 0

    from bench.machine import describe_machine, describe_one_line

    totals = SyntheticTotals()
    data = b"".join(synthetic_835(args.claims, lines_per_claim=args.lines,
                                  claims_per_transaction=args.claims_per_transaction, totals=totals))
    print(f"835 parse + balance: {totals.claims:,} claims x {args.lines} lines in {totals.transactions} "
          f"transaction(s), {len(data) / 1e6:.1f} MB")
    print(f"Machine: {describe_one_line(describe_machine())}")
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        parse_and_balance(io.BytesIO(data))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    runs = []
    for _ in range(max(1, args.rounds)):
        claims, wall, cpu = measure_throughput(data)
        runs.append((claims / wall, claims / cpu, wall))
    runs.sort()
    rate, cpu_rate, seconds = runs[len(runs) // 2]
    verdict = "meets" if rate >= TARGET_CLAIMS_PER_SECOND else "BELOW"
    print(f"parse+balance {rate:>10,.0f} claims/s  (median of {len(runs)} rounds: {seconds:.2f} s wall, "
          f"{cpu_rate:,.0f} claims per CPU second; best {runs[-1][0]:,.0f}/s; "
          f"{len(data) / 1e6 / seconds:.1f} MB/s; {verdict} the {TARGET_CLAIMS_PER_SECOND:,}/s target)")
    rounds = max(1, args.rounds)
    floor = max(measure_bare_split(data, totals.claims) for _ in range(rounds))
    print(f"bare split    {floor:>10,.0f} claims/s  (decode + str.split on the same bytes, best of {rounds}; "
          "the floor for pure Python)")
    if not args.no_memory:
        for label, per_transaction, eager in (("stream_835, one transaction", None, False),
                                              ("parse_835, 1,000 claims per transaction", 1_000, True),
                                              ("parse_835, one transaction held whole", None, True)):
            (small, base_small), (large, base_large) = (
                measure_peak_memory(count, args.lines, per_transaction, eager) for count in (10_000, 100_000))
            print(f"peak RSS, {label}: 10,000 claims +{(small - base_small) / 2**20:.1f} MiB, "
                  f"100,000 claims +{(large - base_large) / 2**20:.1f} MiB over the process before parsing "
                  f"({base_large / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
