"""Per-client rate limits: a token bucket per client, in the process.

Each client may send `OPENRCM_RATE_LIMIT_PER_CLIENT` requests a second on average and up to
`OPENRCM_RATE_LIMIT_BURST` at once; past that it gets 429 problem+json with `Retry-After` and the
`RateLimit-Policy` / `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers (revision 11):
the policy as a quota `q` over a window `w`, the service limit as what remains `r` and the seconds
until there is more `t`, and the draft's "quota-exceeded" problem type. The limit is per process,
which is what a token bucket in memory can promise; the global admission bound
(`openrcm_shared.http.admission`) still caps the work in progress whoever sends it.

Who is a client: the access token's `client_id` once a request is authenticated (the authorization
dependency calls `check_rate_limit(request, principal.client_id)`); before that, and for routes
without authentication, the practice named in `X-Tenant-Id`, else the caller's address
(`InboundGuardMiddleware`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request

from openrcm_shared.http.problems import Problem

POLICY_NAME = "per-client"
QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"


class RateLimitSettings(BaseSettings):
    """`OPENRCM_RATE_LIMIT_PER_CLIENT` (requests a second; 0 switches limiting off) and
    `OPENRCM_RATE_LIMIT_BURST` (requests at once; 0: twice the rate)."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_", extra="ignore")

    # The intake benchmark sends 300 claims/s (closed loop: ~600/s) from one client: this is well
    # above both, so one EHR at full speed is never limited; a client looping on an error is.
    rate_limit_per_client: float = 1000.0
    rate_limit_burst: int = 0
    # Buckets kept at most; past this, full (idle) buckets are dropped first.
    rate_limit_clients: int = 10_000


@dataclass(frozen=True, slots=True)
class RateLimited:
    """A refusal: when to come back, and what to tell the client about the policy."""

    retry_after: int  # whole seconds until a request would be taken
    quota: int  # the burst: requests the policy allows at once
    window: int  # seconds the bucket takes to fill from empty

    def problem(self) -> Problem:
        """The 429 problem+json, with Retry-After and the RateLimit-Policy / RateLimit fields."""
        return Problem(429, "Request cannot be satisfied as assigned quota has been exceeded",
                       f"More than {self.quota} requests at once or more than the per-client rate; "
                       f"retry after {self.retry_after} s.", type_=QUOTA_EXCEEDED, headers=self.headers(),
                       **{"violated-policies": [POLICY_NAME]})

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after),
                "RateLimit-Policy": f'"{POLICY_NAME}";q={self.quota};w={self.window}',
                "RateLimit": f'"{POLICY_NAME}";r=0;t={self.retry_after}'}


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens, self.updated = tokens, updated


class TokenBucketLimiter:
    """A token bucket per key: `rate` tokens a second, at most `burst` kept; a request takes one.

    Guarantees: a key is never refused while its bucket holds a token, so it can always send
    `burst` requests at once and `rate` a second for ever after; a refused request takes nothing;
    keys do not affect each other; memory stays bounded by `max_keys` buckets (a full bucket holds
    no state worth keeping, so those are dropped first). `clock` is injectable for tests.
    """

    def __init__(self, rate: float, burst: int, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate < 0 or burst < 0 or max_keys < 1:
            raise ValueError("rate, burst and max_keys must not be negative (max_keys at least 1)")
        self.rate = rate
        self.burst = burst or max(1, math.ceil(2 * rate))
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @classmethod
    def from_settings(cls, settings: RateLimitSettings | None = None) -> "TokenBucketLimiter | None":
        """The configured limiter, or None when limiting is off (`OPENRCM_RATE_LIMIT_PER_CLIENT=0`)."""
        settings = settings or RateLimitSettings()
        if settings.rate_limit_per_client <= 0:
            return None
        return cls(settings.rate_limit_per_client, settings.rate_limit_burst, max_keys=settings.rate_limit_clients)

    def take(self, key: str) -> RateLimited | None:
        """Take a token for `key`: None when the request may go on, the refusal otherwise."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return RateLimited(retry_after=max(1, math.ceil((1 - bucket.tokens) / self.rate)), quota=self.burst,
                           window=max(1, math.ceil(self.burst / self.rate)))

    def check(self, key: str) -> None:
        """Take a token for `key` or raise the 429 `Problem` (Retry-After, RateLimit-Policy, RateLimit)."""
        refused = self.take(key)
        if refused is not None:
            raise refused.problem()

    def _evict(self, now: float) -> None:
        full = [key for key, bucket in self._buckets.items()
                if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # every client is busy: forget the oldest half
            for key in list(self._buckets)[:len(self._buckets) // 2 + 1]:
                del self._buckets[key]


def check_rate_limit(request: Request, client_id: str) -> None:
    """For the authorization dependency, right after it has authenticated the caller: count the
    request against the bucket of the token's client, or raise the 429 `Problem`. Does nothing
    when limiting is off. Once every API route is authenticated this way, the middleware's own
    count by practice or address is switched off (`InboundGuardMiddleware(limit_unauthenticated=
    False)`), so a request is counted once."""
    limiter: TokenBucketLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check("client:" + client_id)
