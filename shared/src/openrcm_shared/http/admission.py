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
# Webhooks report on work already taken (a clearinghouse's 999/277CA, a payer's 835): shedding them
# with new work would delay acknowledgements and payments for claims already accepted, and make
# the sender retry. They get a bound of their own, so new requests are what an overloaded service
# turns away.
WEBHOOK_PREFIX = "/v1/webhooks/"


class AdmissionSettings(BaseSettings):
    """`OPENRCM_MAX_CONCURRENT_REQUESTS` (0 switches the bound off) and the Retry-After given."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_", extra="ignore")

    # About what one claims API process completes in under half a second at its maximum on the
    # benchmark machine (~300 claims/s since session 5; 64 when it was ~140/s), so a request
    # admitted waits well under a second for its turn, and a pause of a few hundred milliseconds
    # is absorbed rather than answered with 503s.
    max_concurrent_requests: int = 128
    # `OPENRCM_MAX_CONCURRENT_WEBHOOKS`: the webhooks' own bound (0 switches it off).
    max_concurrent_webhooks: int = 16
    retry_after_seconds: int = 1


class _Budget:
    __slots__ = ("limit", "in_progress")

    def __init__(self, limit: int) -> None:
        self.limit, self.in_progress = limit, 0


class AdmissionMiddleware:
    """ASGI middleware counting the requests in progress and shedding those beyond the bound
    (webhooks against a bound of their own)."""

    def __init__(self, app, settings: AdmissionSettings | None = None) -> None:
        self.app = app
        settings = settings or AdmissionSettings()
        self.requests = _Budget(settings.max_concurrent_requests)
        self.webhooks = _Budget(settings.max_concurrent_webhooks)
        self.retry_after = str(settings.retry_after_seconds)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in NEVER_SHED:
            return await self.app(scope, receive, send)
        budget = self.webhooks if scope["path"].startswith(WEBHOOK_PREFIX) else self.requests
        if budget.limit <= 0:
            return await self.app(scope, receive, send)
        if budget.in_progress >= budget.limit:
            return await self._shed(budget, scope, receive, send)
        budget.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            budget.in_progress -= 1

    async def _shed(self, budget: _Budget, scope, receive, send) -> None:
        problem = Problem(503, "Service overloaded",
                          f"{budget.limit} requests are in progress; retry after {self.retry_after} s.",
                          type_="overloaded", headers={"Retry-After": self.retry_after})
        await problem_response(problem, Request(scope))(scope, receive, send)
