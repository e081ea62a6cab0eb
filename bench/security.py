"""What authorization costs a request, measured in-process (no stack needed):

* verifying an RS256 access token the first time (signature, claims) and the cached path an EHR
  reusing its token for an hour takes on every later request;
* the whole `Authorizer.authorize` on a fresh request each time (header parsing, cache, the
  per-client rate limit, scope and practice checks, binding).

CPU time per call (time.process_time), median of repeated rounds; the machine is printed with it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from types import SimpleNamespace

import httpx
from starlette.requests import Request

from bench.machine import describe_machine
from openrcm_issuer.keys import KeyStore, mint_access_token
from openrcm_shared.http.rate_limits import TokenBucketLimiter
from openrcm_shared.security.authorization import Authorizer
from openrcm_shared.security.scopes import ALL_SCOPES
from openrcm_shared.security.tokens import AuthSettings, JwksKeys, TokenVerifier

ISSUER = "http://issuer.bench"


def _verifier(keys: KeyStore) -> TokenVerifier:
    jwks = keys.jwks()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
    settings = AuthSettings(issuer=ISSUER, jwks_url=f"{ISSUER}/jwks")
    return TokenVerifier(settings, JwksKeys(settings.jwks_url, client=httpx.AsyncClient(transport=transport)))


class _App:
    """What the authorization reads from the app: its rate limiter (create_service_app's, with a
    rate no loop here reaches: a refusal would end the measurement, and taking a token costs the
    same whatever the rate)."""

    def __init__(self) -> None:
        self.state = SimpleNamespace(rate_limiter=TokenBucketLimiter(rate=1e9, burst=10**9))


def _request(token: str, app: _App) -> Request:
    """A fresh request as an EHR sends it (its headers parsed on first use, as in a real request)."""
    return Request({"type": "http", "method": "POST", "path": "/v1/encounters", "query_string": b"", "app": app,
                    "headers": [(b"host", b"127.0.0.1:8001"), (b"user-agent", b"bench-ehr/1.0"),
                                (b"accept", b"application/json"), (b"content-type", b"application/json"),
                                (b"content-length", b"1200"), (b"authorization", f"Bearer {token}".encode())]})


async def _per_call_us(call, rounds: int, calls: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            await call()
        samples.append((time.process_time() - started) / calls * 1e6)
    return statistics.median(samples)


async def measure(folder) -> dict:
    keys = KeyStore(folder)
    key = keys.ensure_key()

    def token() -> str:
        return mint_access_token(key, issuer=ISSUER, audience="openrcm", subject="ehr", client_id="ehr",
                                 scopes=ALL_SCOPES, tenants=["bench"])
    verifier = _verifier(keys)
    await verifier.verify(token())  # JWKS fetched once
    fresh = [token() for _ in range(2000)]
    iterator = iter(fresh)
    first_verification = await _per_call_us(lambda: verifier.verify(next(iterator)), rounds=4, calls=400)
    reused = token()
    await verifier.verify(reused)
    cached = await _per_call_us(lambda: verifier.verify(reused), rounds=5, calls=20000)
    authorizer = Authorizer(verifier.settings, verifier)
    app = _App()
    requests = iter([_request(reused, app) for _ in range(5 * 20000)])
    authorize = await _per_call_us(lambda: authorizer.authorize(next(requests), ("claims:write",)), rounds=5,
                                   calls=20000)
    return {"first_verification_us": round(first_verification, 1), "cached_verification_us": round(cached, 2),
            "authorize_us": round(authorize, 2)}


def run() -> int:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(measure(Path(folder)))
    print(describe_machine())
    print("Access-token verification, CPU per call:")
    print(f"  first sight of a token (RS256 signature + claims): {figures['first_verification_us']} us")
    print(f"  the same token again (cache):                     {figures['cached_verification_us']} us")
    print(f"  Authorizer.authorize on a request (cached token): {figures['authorize_us']} us")
    return 0
