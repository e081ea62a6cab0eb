"""Admission control: a bound on the requests a service works on at once.

Past that bound a request is answered at once with 503 problem+json and `Retry-After`, instead
of queueing for the event loop and the database pool without limit: under overload, latency
stays bounded for the requests taken, no work is done for clients that have given up, and
clients are told when to come back. Health and metrics endpoints are never shed, so a saturated
service can still be observed and is not restarted for being busy.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request

from openrcm_shared.http.problems import Problem, problem_response

NEVER_SHED = frozenset({"/livez", "/readyz", "/metrics"})


class AdmissionSettings(BaseSettings):
    """`OPENRCM_MAX_CONCURRENT_REQUESTS` (0 switches the bound off) and the Retry-After given."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_", extra="ignore")

    # About what one claims process completes in half a second at its maximum on the benchmark
    # machine (~140 claims/s), so a request admitted waits well under a second for its turn.
    max_concurrent_requests: int = 64
    retry_after_seconds: int = 1


class AdmissionMiddleware:
    """ASGI middleware counting the requests in progress and shedding those beyond the bound."""

    def __init__(self, app, settings: AdmissionSettings | None = None) -> None:
        self.app = app
        settings = settings or AdmissionSettings()
        self.limit = settings.max_concurrent_requests
        self.retry_after = str(settings.retry_after_seconds)
        self.in_progress = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.limit <= 0 or scope["path"] in NEVER_SHED:
            return await self.app(scope, receive, send)
        if self.in_progress >= self.limit:
            return await self._shed(scope, receive, send)
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1

    async def _shed(self, scope, receive, send) -> None:
        problem = Problem(503, "Service overloaded",
                          f"{self.limit} requests are in progress; retry after {self.retry_after} s.",
                          type_="overloaded", headers={"Retry-After": self.retry_after})
        await problem_response(problem, Request(scope))(scope, receive, send)
