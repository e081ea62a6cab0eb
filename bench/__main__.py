"""`python -m bench` / `./openrcm bench`: run a benchmark; with no arguments, print the help.

    ./openrcm bench intake                       100, 300, 500 claims/s open loop from vegeta (JSON, no key)
    ./openrcm bench intake --form fhir-claim --rates 300 --duration 60     one form at the target
    ./openrcm bench intake --rates 50 --duration 5                          a quick smoke run
    ./openrcm bench intake --generator python    the Python load generator, then 64 workers closed loop
    ./openrcm bench intake --rates 300 --no-closed-loop
    ./openrcm bench intake --profile claims,remittance     also profile those services under load
    ./openrcm bench posting                      835 posting: 10,000 and 100,000-claim ERAs into PostgreSQL
    ./openrcm bench security                     CPU per call of access-token verification and authorization
    ./openrcm bench row-security                 what binding the practice costs per transaction (PostgreSQL only)
    ./openrcm bench security-share               token verification's and RLS's share of intake CPU per claim (~8 min)
    ./openrcm bench audit                        the audit trail's CPU per request (service and PostgreSQL)
    ./openrcm bench statements                   a statement run for 100,000 accounts, PDFs included
    ./openrcm bench appeal-letter                an appeal letter PDF per workload (no stack; target 300 ms)
    ./openrcm bench ar-reports                   A/R aging (as of a past date) and KPIs over 1,000,000 claims
"""

from __future__ import annotations

import argparse
import sys

from bench.forms import FORMS
from bench.intake import IntakeOptions


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value
    return parse


def _rates(text: str) -> list[float]:
    return [_positive(float)(part) for part in text.split(",") if part.strip()]


def _forms(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return list(FORMS)
    unknown = [n for n in names if n not in FORMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown form(s) {unknown}; known: {', '.join(FORMS)} or all")
    return names


def _services(text: str) -> list[str]:
    from openrcm_devstack.services import SERVICES

    names = [part.strip() for part in text.split(",") if part.strip()]
    known = {s.name for s in SERVICES} | {f"{s.name}-worker" for s in SERVICES if s.default_worker_port}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown service(s) {unknown}; known: {sorted(known)}")
    return names


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="./openrcm bench", description="OpenRCM benchmarks. Each starts its own stack on the bench ports "
        "(state in .local/bench), stops it at the end, and writes .local/bench/results-<timestamp>.json. "
        "See docs/benchmarks.md.")
    commands = main.add_subparsers(dest="command", metavar="BENCHMARK")
    defaults = IntakeOptions()
    intake = commands.add_parser(
        "intake", help="claims intake in one form (JSON, keyed JSON, FHIR Claim, FHIR Bundle, batches): open "
                       "loop at fixed rates, and end-to-end latency to the remittance service",
        description="Claims intake on the claims service in one form (--form), open loop at fixed offered "
                    "rates in claims/s from vegeta (default; latency from each request's send, which an open "
                    "loop makes its due time) or the Python generator (latency from each request's due "
                    "time; it also runs a closed loop with N workers for the maximum); end-to-end latency "
                    "from the answer to the ClaimSubmitted projection in the remittance database; service "
                    "CPU per claim.")
    intake.add_argument("--form", "--forms", dest="forms", type=_forms, default=defaults.forms, metavar="FORM[,FORM]",
                        help="json (POST /v1/encounters), json-keyed (with a unique Idempotency-Key each), "
                             "fhir-claim (POST /fhir/Claim, keyed), fhir-bundle (POST /fhir, a batch Bundle, "
                             "keyed), batch (POST /v1/encounter-batches), or all; each form runs at every rate "
                             "(default: json)")
    intake.add_argument("--batch-size", type=_positive(int), default=defaults.batch_size, metavar="N",
                        help=f"claims per request of the batch and fhir-bundle forms (default: {defaults.batch_size})")
    intake.add_argument("--generator", choices=("vegeta", "python"), default=defaults.generator,
                        help="the open-loop load: vegeta (default; go install "
                             "github.com/tsenart/vegeta/v12@v12.13.0) or python (the built-in generator, which "
                             "shares the machine's Python cores with the services)")
    intake.add_argument("--rates", type=_rates, default=defaults.rates, metavar="R1,R2,...",
                        help="offered rates for the open-loop runs, claims/s (default: 100,300,500)")
    intake.add_argument("--duration", type=_positive(float), default=defaults.duration, metavar="SECONDS",
                        help=f"length of each run (default: {defaults.duration:g})")
    intake.add_argument("--workers", type=_positive(int), default=defaults.workers,
                        help=f"concurrent workers of the closed-loop run (default: {defaults.workers})")
    intake.add_argument("--no-closed-loop", dest="closed_loop", action="store_false",
                        help="skip the closed-loop (maximum throughput) run (--generator python only)")
    intake.add_argument("--max-requests", type=_positive(int), default=defaults.max_requests, metavar="N",
                        help=f"hard cap on the requests of one run (default: {defaults.max_requests})")
    intake.add_argument("--connections", type=_positive(int), default=defaults.connections, metavar="N",
                        help=f"open loop: most connections to the claims service (default: {defaults.connections})")
    intake.add_argument("--request-timeout", type=_positive(float), default=defaults.request_timeout,
                        metavar="SECONDS", help=f"per request; counts as an error (default: {defaults.request_timeout:g})")
    intake.add_argument("--drain-timeout", type=_positive(float), default=defaults.drain_timeout, metavar="SECONDS",
                        help="after a run, how long to wait for its claims to reach the remittance service "
                             f"(default: {defaults.drain_timeout:g})")
    intake.add_argument("--warmup", type=_positive(float), default=defaults.warmup, metavar="SECONDS",
                        help=f"unreported warm-up at {defaults.warmup_rate:g}/s before the runs "
                             f"(default: {defaults.warmup:g})")
    intake.add_argument("--pause", type=float, default=defaults.pause, metavar="SECONDS",
                        help=f"rest between runs (default: {defaults.pause:g})")
    intake.add_argument("--profile", type=_services, default=[], metavar="SERVICE[,SERVICE]",
                        help="after the runs, restart these service processes (claims, claims-worker, remittance, ...) under cProfile and drive closed-loop load "
                             "(its figures are not benchmark figures)")
    intake.add_argument("--profile-seconds", type=_positive(float), default=defaults.profile_seconds,
                        metavar="SECONDS", help=f"length of the profiled run (default: {defaults.profile_seconds:g})")
    intake.add_argument("--clearinghouse-validator", choices=("pyx12", "envelope"),
                        default=defaults.clearinghouse_validator,
                        help="the clearinghouse simulator's front-end check of each 837: envelope (default: only "
                             "what the project's X12 reader checks; the simulator stands for an external party, "
                             "so the targets are judged this way) or pyx12 (that party's validation CPU on this "
                             "machine too: the figure reported beside)")
    posting = commands.add_parser(
        "posting", help="835 posting into PostgreSQL: claim payments/s and a 100,000-claim ERA end to end",
        description="Stores and posts synthetic 835 ERAs with the remittance service's own functions on an "
                    "embedded PostgreSQL (bench ports, .local/bench-posting), one fresh process per size.")
    posting.add_argument("--sizes", default="10000,100000", metavar="N1,N2",
                         help="claims per ERA (default: 10000,100000)")
    posting.add_argument("--workers", type=int, default=None, metavar="N",
                         help="posting worker processes (default: the service's, OPENRCM_REMITTANCE_POSTING_WORKERS "
                              "or 2; 0 posts in one process)")
    posting.add_argument("--profile", action="store_true",
                         help="also write a cProfile (CPU time) of the posting process to .local/bench and print its "
                              "top functions; with --workers 0 it covers all the posting work")
    commands.add_parser("security", help="CPU per call of access-token verification and authorization "
                                         "(in process, no stack)")
    letters = commands.add_parser("appeal-letter", help="an appeal letter PDF from a case's facts (target 300 ms)",
                                  description="Appeal letters rendered in one process (bench/appeal_letter.py).")
    letters.add_argument("--letters", type=_positive(int), default=200, metavar="N", help="letters per workload")
    security = commands.add_parser(
        "row-security", help="row-level security's cost per transaction, on PostgreSQL alone",
        description="The payer read most API transactions start with, and the intake's one-statement claim "
                    "write, one transaction at a time, as the superuser (as before) and as the app role under "
                    "the practice policies; see bench/row_security.py.")
    security.add_argument("--transactions", type=_positive(int), default=300, metavar="N",
                          help="transactions per variant and round (default: 300)")
    security.add_argument("--rounds", type=_positive(int), default=20, metavar="N",
                          help="rounds, the variants alternating (default: 20)")
    share = commands.add_parser(
        "security-share", help="what token verification and row-level security cost a claim at intake, as a "
                               "share of the pipeline's CPU (issue 13's 10 %% target)",
        description="One stack; intake runs at --rate alternating row-level security as migrated and a "
                    "measurement arm with it disabled on every table (a state no deployment can use); py-spy "
                    "samples the services for the Python side. See bench/security_share.py.")
    share.add_argument("--rate", type=_positive(float), default=300.0, metavar="CLAIMS/S",
                       help="offered rate of every run (default: 300)")
    share.add_argument("--duration", type=_positive(float), default=60.0, metavar="SECONDS",
                       help="length of each run (default: 60)")
    share.add_argument("--rounds", type=_positive(int), default=2, metavar="N",
                       help="rounds of one run with row-level security on, then one off (default: 2)")
    share.add_argument("--sampling-rate", type=int, default=200, metavar="HZ",
                       help="py-spy samples per second per service process; 0: no sampling (default: 200)")
    share.add_argument("--clearinghouse-validator", choices=("pyx12", "envelope"), default="envelope",
                       help="the clearinghouse simulator's check of each 837 (default: envelope; the simulator "
                            "is not part of the pipeline's figures either way)")
    share.add_argument("--generator", choices=("vegeta", "python"), default="vegeta",
                       help="the open-loop load (default: vegeta)")
    share.add_argument("--binding-transactions", type=_positive(int), default=300, metavar="N",
                       help="bench.row_security's transactions per variant and round (default: 300)")
    share.add_argument("--binding-rounds", type=_positive(int), default=10, metavar="N",
                       help="bench.row_security's rounds (default: 10)")
    audit = commands.add_parser(
        "audit", help="the audit trail's CPU per request: a read and an encounter with it on and off",
        description="On an embedded PostgreSQL (bench ports, .local/bench-audit): the CPU per request of this "
                    "process and of PostgreSQL for an audited read and for the intake's write, with the audit "
                    "trail on and off, then the chainer's per entry.")
    audit.add_argument("--requests", type=_positive(int), default=4000, metavar="N",
                       help="requests per run (default: 4000)")
    audit.add_argument("--rounds", type=_positive(int), default=5, metavar="N",
                       help="runs of each kind, on and off alternately (default: 5)")
    statements = commands.add_parser(
        "statements", help="a statement run for 100,000 accounts, PDFs included (target <= 10 minutes)",
        description="On an embedded PostgreSQL (.local/bench-statements): seeds accounts with COPY, then runs "
                    "the collections statement run (PDFs, batch file) with progress; see bench/statement_run.py.")
    statements.add_argument("--accounts", type=_positive(int), default=100_000, metavar="N",
                            help="accounts with a balance (default: 100000)")
    reports = commands.add_parser(
        "ar-reports", help="A/R aging as of a past date and the KPI set for a year, over 1,000,000 claims",
        description="Seeds one practice's receivables and ledger by COPY on an embedded PostgreSQL (bench ports, "
                    ".local/bench-ar), then times the collections service's aging and KPI queries as the app "
                    "role; see bench/ar_reports.py.")
    reports.add_argument("--claims", type=_positive(int), default=1_000_000, metavar="N",
                         help="claims seeded (default: 1000000)")
    reports.add_argument("--runs", type=_positive(int), default=5, metavar="N",
                         help="runs of each report (default: 5)")
    return main


def main(argv: list[str]) -> int:
    cli = parser()
    if not argv:
        cli.print_help()
        return 0
    args = cli.parse_args(argv)
    if args.command == "intake":
        from bench.intake import run_intake

        options = IntakeOptions(
            rates=args.rates, duration=args.duration, workers=args.workers, closed_loop=args.closed_loop,
            max_requests=args.max_requests, connections=args.connections, request_timeout=args.request_timeout,
            drain_timeout=args.drain_timeout, warmup=args.warmup, pause=max(0.0, args.pause),
            profile=args.profile, profile_seconds=args.profile_seconds,
            clearinghouse_validator=args.clearinghouse_validator, forms=args.forms, batch_size=args.batch_size,
            generator=args.generator)
        return run_intake(options, argv)
    if args.command == "posting":
        from bench.posting import run

        return run([int(part) for part in args.sizes.split(",") if part.strip()], args.workers, args.profile)
    if args.command == "security":
        from bench.security import run as run_security

        return run_security()
    if args.command == "row-security":
        from bench.row_security import run as run_row_security

        return run_row_security(args.transactions, args.rounds)
    if args.command == "security-share":
        from bench.security_share import ShareOptions, run as run_security_share

        return run_security_share(ShareOptions(
            rate=args.rate, duration=args.duration, rounds=args.rounds, sampling_rate=max(0, args.sampling_rate),
            clearinghouse_validator=args.clearinghouse_validator, generator=args.generator,
            binding_transactions=args.binding_transactions, binding_rounds=args.binding_rounds), argv)
    if args.command == "ar-reports":
        from bench.ar_reports import run as run_ar_reports

        return run_ar_reports(args.claims, args.runs)
    if args.command == "audit":
        from bench.audit import run

        return run(args.requests, args.rounds)
    if args.command == "statements":
        from bench.statement_run import run as run_statements

        return run_statements(args.accounts)

    if args.command == "appeal-letter":
        from bench.appeal_letter import main as run_appeal_letter

        return run_appeal_letter(["--letters", str(args.letters)])
    cli.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
