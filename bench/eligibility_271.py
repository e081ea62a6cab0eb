"""271 parsing throughput of `openrcm_shared.x12.eligibility_271`: responses per second, one process.

    uv run python -m bench.eligibility_271                       20,000 single-answer 271 interchanges
    uv run python -m bench.eligibility_271 --responses 50000 --per-file 100

Each response is a realistic benefits answer (25 segments: plan dates, active coverage, deductible and
out-of-pocket with their remaining amounts, coinsurance, copay over ten service types, a message,
another payer in a 2120 loop); with `--distinct` each member has its own deductible and out of pocket
left, as real answers do. The files are rendered into memory before the clock starts; parsing
builds the normalized model; the per-service-type summary (computed when asked) is timed apart. Target: 20,000
responses/s (issue 17). Figures only, no assertions.

The process's garbage collector is set as the eligibility service sets its own once started
(`openrcm_shared.gc_tuning.settle_after_start_up`: what start-up built frozen, larger thresholds);
`--default-gc` keeps the interpreter's defaults instead. The collector stays on either way, and every
answer of a round is kept until the round ends (as a batch upload keeps them until they are stored).
"""

from __future__ import annotations

import argparse
import os
import time

from openrcm_shared.gc_tuning import settle_after_start_up
from openrcm_shared.x12.eligibility_271 import parse_271

TARGET_RESPONSES_PER_SECOND = 20_000

_BODY = [
    "HL*{hl1}**20*1", "NM1*PR*2*ACME HEALTH*****PI*ACME1", "HL*{hl2}*{hl1}*21*1",
    "NM1*1P*2*FAMILY CLINIC*****XX*1234567893", "HL*{hl3}*{hl2}*22*0", "TRN*2*TRACE{n}*9123456789",
    "NM1*IL*1*DOE*JANE****MI*M{n}", "REF*6P*G77*ACME EMPLOYEES", "DMG*D8*19800203*F", "DTP*346*D8*20260101",
    "EB*1*IND*30*C1*GOLD PPO", "EB*C*IND*30***23*1500*****Y", "EB*C*IND*30***29*{deductible_left}*****Y",
    "EB*G*IND*30***23*5000*****Y", "EB*G*IND*30***29*{oop_left}*****Y",
    "EB*A*IND*1^33^35^47^86^88^98^AL^MH^UC*****.2****Y",
    "EB*B*IND*1^33^35^47^86^88^98^AL^MH^UC***27*25*****Y", "MSG*COPAY WAIVED FOR PREVENTIVE",
    "EB*R**30*MA", "LS*2120", "NM1*PRP*2*OTHER PAYER*****PI*OP1", "LE*2120",
]


def _interchange(first: int, count: int, distinct: bool = False) -> str:
    isa = ("ISA*00*          *00*          *ZZ*PAYER          *ZZ*OPENRCM        *260301*1200*^*00501*"
           "000000001*0*P*:~")
    body = ["BHT*0022*11*R1*20260301*1200"]
    for index in range(count):
        hl = index * 3
        n = first + index
        # What is left of the deductible and out of pocket: the plan's figures, or each member's own.
        left = {"deductible_left": f"{n % 1500}.{n % 100:02d}", "oop_left": f"{n % 5000 + 1}"} if distinct else \
            {"deductible_left": "400", "oop_left": "4100"}
        body += [s.format(hl1=hl + 1, hl2=hl + 2, hl3=hl + 3, n=n, **left) for s in _BODY]
    transaction = ["ST*271*0001*005010X279A1", *body]
    transaction.append(f"SE*{len(transaction) + 1}*0001")
    return isa + "GS*HB*PAYER*OPENRCM*20260301*1200*1*X*005010X279A1~" + "~".join(transaction) + \
        "~GE*1*1~IEA*1*000000001~"


def run(responses: int, per_file: int, rounds: int = 3, distinct: bool = False, service_gc: bool = True) -> dict:
    files = [_interchange(first, min(per_file, responses - first), distinct) for first in range(0, responses, per_file)]
    if service_gc:  # start-up is over: the files are the input, as a service's code and caches are its
        settle_after_start_up()
    parse_wall = parse_cpu = float("inf")
    parsed: list = []
    for _round in range(rounds):  # best of the rounds: the machine is shared
        # Each round keeps its own answers, not the previous round's as well: the collector walks
        # what is alive, and one round is one upload.
        del parsed
        started, cpu_started = time.perf_counter(), time.process_time()
        parsed = [response for text in files for response in parse_271(text)]
        parse_wall = min(parse_wall, time.perf_counter() - started)
        parse_cpu = min(parse_cpu, time.process_time() - cpu_started)
    cpu_started = time.process_time()
    for response in parsed:
        response.summary()
    summary_cpu = time.process_time() - cpu_started
    # The machine is shared: CPU seconds say what one process achieves when it has a core to itself.
    return {"responses": len(parsed), "per_file": per_file, "distinct_amounts": distinct,
            "gc": "service (settle_after_start_up)" if service_gc else "interpreter defaults",
            "parse_wall_seconds": round(parse_wall, 3),
            "responses_per_second": round(len(parsed) / parse_wall),
            "responses_per_cpu_second": round(len(parsed) / parse_cpu),
            "summaries_per_cpu_second": round(len(parsed) / summary_cpu), "target": TARGET_RESPONSES_PER_SECOND}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--responses", type=int, default=20_000)
    options.add_argument("--per-file", type=int, default=1, help="answers per 271 interchange (1: real time)")
    options.add_argument("--rounds", type=int, default=3)
    options.add_argument("--distinct", action="store_true",
                         help="each member's own deductible and out of pocket left (2 of 8 EBs differ per answer)")
    options.add_argument("--default-gc", action="store_true",
                         help="the interpreter's collector thresholds rather than the service's (gc_tuning)")
    arguments = options.parse_args()
    print({**run(arguments.responses, arguments.per_file, arguments.rounds, arguments.distinct,
                 not arguments.default_gc),
           "load_average": [round(x, 2) for x in os.getloadavg()]})


if __name__ == "__main__":
    main()
