"""CPU per FHIR Claim of reading it, the purpose-built model (adapters.fhir.claim_json) against
fhir.resources: what the claims API spends on a Claim before it is written.

    uv run python -m bench.fhir_reader                     300 Claims (the intake bench's fhir-claim form), best of 5
    uv run python -m bench.fhir_reader --claims 1000 --rounds 3

Single process, no I/O: the bodies are the ones `./openrcm bench intake --form fhir-claim` and
`--form fhir-bundle` send (unique ids each), as bytes. Per Claim, best round, CPU time
(`time.process_time`): the JSON parse (exact decimals), the validation by each reader, the mapping
into an encounter (the same code after either reader, against an in-memory registry of the
bench's payer), the Idempotency-Key fingerprint of the parsed Claim (orjson, as the service
writes it, against json.dumps alone), and a Bundle of 10 Claims with its parties. Figures only, no assertions; the load
average is printed beside them (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import time
from typing import Callable
from unittest import mock

from openrcm_claims.adapters.fhir import resources
from openrcm_claims.adapters.fhir.claim_intake import encounter_from, read_claim
from openrcm_claims.adapters.fhir.claim_json import read_claim_json
from openrcm_claims.adapters.fhir.references import Resolver
from openrcm_claims.adapters.fhir.resources import json_body, parse_bundle, parse_resource
from openrcm_shared.http.idempotency import parsed_request_fingerprint

from bench.forms import intake_form

NAIC = "urn:oid:2.16.840.1.113883.6.300"


class _Registry:
    """The bench practice: payer 60054 known by NAIC 98765 (bench.forms.PAYER), nothing else."""

    async def payers(self, payer_ids):
        return {p for p in payer_ids if p == "60054"}

    async def payers_by_identifiers(self, pairs):
        return {pair: "60054" for pair in pairs if pair == (NAIC, "98765")}

    async def patient(self, patient_id):
        return None

    async def provider(self, npi):
        return None

    async def facility(self, facility_id):
        return None

    async def coverage(self, patient_id, coverage_id):
        return None


@contextlib.contextmanager
def _fhir_resources_only():
    with mock.patch.object(resources, "read_claim_json", lambda raw: None), \
            mock.patch.object(resources, "read_party_json", lambda raw: None):
        yield


def _cpu_per_item(work: Callable[[], None], items: int, rounds: int) -> float:
    """Best round's CPU seconds per item."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fhir_reader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=300, help="Claims per round (default 300)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is reported (default 5)")
    options = parser.parse_args(argv)
    claims = [intake_form("fhir-claim", 1).request(n).body for n in range(options.claims)]
    bundles = [intake_form("fhir-bundle", 10).request(n).body for n in range(max(1, options.claims // 10))]
    parsed = [json_body(body) for body in claims]
    parsed_bundles = [json_body(body) for body in bundles]
    registry = _Registry()

    def parse_all() -> None:
        for body in claims:
            json_body(body)

    def fhir_resources() -> None:
        for raw in parsed:
            parse_resource(raw, "Claim", expected="Claim")

    def purpose_built() -> None:
        for raw in parsed:
            read_claim_json(raw)

    models = [read_claim_json(raw) for raw in parsed]
    assert all(model is not None for model in models), "a bench Claim does not fit the purpose-built model"

    def mapping() -> None:
        async def run() -> None:
            for claim in models:
                encounter_from(await read_claim(claim, Resolver(), registry))
        asyncio.run(run())

    def fingerprint() -> None:
        for raw in parsed:
            parsed_request_fingerprint("POST", "/fhir/Claim", raw)

    def fingerprint_json_dumps() -> None:
        for raw in parsed:
            hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":"), default=float).encode()).hexdigest()

    def bundles_read() -> None:
        for raw in parsed_bundles:
            parse_bundle(raw)

    n, rounds = len(claims), options.rounds
    figures = {
        "JSON parse (exact decimals)": _cpu_per_item(parse_all, n, rounds),
        "fhir.resources validation": _cpu_per_item(fhir_resources, n, rounds),
        "purpose-built model": _cpu_per_item(purpose_built, n, rounds),
        "mapping to an encounter (either)": _cpu_per_item(mapping, n, rounds),
        "Idempotency-Key fingerprint (orjson)": _cpu_per_item(fingerprint, n, rounds),
        "the same with json.dumps alone": _cpu_per_item(fingerprint_json_dumps, n, rounds),
    }
    with _fhir_resources_only():
        figures["Bundle of 10, fhir.resources (per Claim)"] = _cpu_per_item(bundles_read, len(bundles) * 10, rounds)
    figures["Bundle of 10, purpose-built (per Claim)"] = _cpu_per_item(bundles_read, len(bundles) * 10, rounds)
    print(f"FHIR Claim reading, CPU per Claim, best of {rounds} rounds of {n} Claims "
          f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    for name, seconds in figures.items():
        print(f"  {name:<44} {seconds * 1e6:9.1f} µs")
    old = figures["fhir.resources validation"]
    new = figures["purpose-built model"]
    print(f"  validation: {old / new:.1f} times less CPU with the purpose-built model")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
