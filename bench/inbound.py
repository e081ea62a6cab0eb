"""CPU per request of the inbound guard (openrcm_shared.http.inbound): what every request pays for
the rate limit, the NUL checks, the body-size bound and the JSON checks.

    uv run python -m bench.inbound                   20,000 requests per case, best of 5
    uv run python -m bench.inbound --requests 5000 --rounds 3

Single process, no network: each request is an ASGI call with the headers an EHR sends, through
the guard into an application that reads the body and answers (as POST /v1/encounters does), and
the same call without the guard; the difference is the guard's cost. Figures only, no assertions.
The claims intake spends ~4.3 ms of CPU per claim (docs/benchmarks.md), the reference for the
share printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from openrcm_shared.http.inbound import InboundGuardMiddleware, InboundSettings
from openrcm_shared.http.rate_limits import TokenBucketLimiter

CPU_PER_CLAIM_SECONDS = 4.3e-3


def encounter_body(lines: int) -> bytes:
    """An encounter as an EHR posts it (bench.intake's shape), with `lines` charge lines."""
    line = {"procedure_code": "99213", "modifiers": ["25"], "units": 1, "charge_amount": "125.00",
            "service_date": "2026-11-20", "diagnosis_pointers": [1, 2]}
    return json.dumps({
        "encounter_id": "EHR-1001",
        "patient": {"id": "P-1", "first_name": "Testy", "last_name": "Synthetic", "birth_date": "1979-04-12",
                    "gender": "F", "address": {"line1": "12 Example Lane", "city": "Springfield", "state": "IL",
                                               "postal_code": "62701"}},
        "coverage": {"payer_id": "60054", "member_id": "XJ123456"},
        "billing_provider": {"npi": "1234567893", "tax_id": "123456789", "name": "Synthetic Family Clinic",
                             "address": {"line1": "100 Main Street", "city": "Springfield", "state": "IL",
                                         "postal_code": "627011234"}},
        "diagnosis_codes": ["E11.9", "I10"], "lines": [line] * lines}).encode()


def scope_for(method: str, path: str, body: bytes) -> dict:
    headers = [(b"host", b"127.0.0.1:8001"), (b"user-agent", b"python-httpx/0.28"), (b"accept", b"*/*"),
               (b"accept-encoding", b"gzip, deflate"), (b"connection", b"keep-alive"),
               (b"x-tenant-id", b"bench-practice"), (b"idempotency-key", b"ehr-batch-7-encounter-1"),
               (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": headers, "client": ("127.0.0.1", 50000)}


async def application(scope, receive, send) -> None:
    """Reads the whole body, as the intake does, then answers 201."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _run(app, scope: dict, body: bytes, requests: int) -> float:
    async def send(message) -> None:
        return None

    started = time.process_time()
    for _ in range(requests):
        delivered = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return delivered.pop() if delivered else {"type": "http.disconnect"}

        await app(dict(scope), receive, send)
    return (time.process_time() - started) / requests


def measure(scope: dict, body: bytes, requests: int, rounds: int) -> tuple[float, float]:
    """(seconds per request without the guard, with it), best of `rounds`."""
    guarded = InboundGuardMiddleware(application, InboundSettings(),
                                     limiter=TokenBucketLimiter(rate=1e9, burst=10 ** 9))
    bare = best = float("inf")
    for _ in range(rounds):
        bare = min(bare, asyncio.run(_run(application, scope, body, requests)))
        best = min(best, asyncio.run(_run(guarded, scope, body, requests)))
    return bare, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inbound", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per case and round (default 20,000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per case; the best is reported (default 5)")
    options = parser.parse_args(argv)
    cases = [("POST /v1/encounters, 2 lines", "POST", "/v1/encounters", encounter_body(2)),
             ("POST /v1/encounters, 50 lines", "POST", "/v1/encounters", encounter_body(50)),
             ("GET /v1/claims/{id}", "GET", "/v1/claims/0b3c6c1e-3f0e-4c61-9a55-8f1f5b0f3d8e", b"")]
    print(f"inbound guard, CPU per request (best of {options.rounds} x {options.requests:,})")
    for name, method, path, body in cases:
        bare, guarded = measure(scope_for(method, path, body), body, options.requests, options.rounds)
        added = guarded - bare
        print(f"  {name:32s} {len(body):6,d} B  without {bare * 1e6:6.1f} us  with {guarded * 1e6:6.1f} us  "
              f"added {added * 1e6:5.1f} us = {added / CPU_PER_CLAIM_SECONDS:6.2%} of a claim's CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
