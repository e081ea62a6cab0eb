"""The port to a clearinghouse for real-time 270/271, its HTTP adapter, and the per-payer limit.

The clearinghouse answers a 270 with the 271 in the same HTTP response (the CAQH CORE real-time
mode). What can be asked again is told apart from what cannot: a timeout, a connection error, 408,
429 or a 5xx is `ExchangeUnavailable` (retried with backoff); another 4xx is `ExchangeRefused`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from contextlib import asynccontextmanager
from typing import AsyncIterator, Protocol

import httpx

X12_MEDIA_TYPE = "application/edi-x12"


class ExchangeUnavailable(Exception):
    """No answer this time (timeout, connection, 408/429/5xx): asking again later can help."""


class ExchangeRefused(Exception):
    """The clearinghouse refused the 270 itself (a 4xx): sending it again cannot help."""


class EligibilityExchange(Protocol):
    async def exchange(self, check_id: str, inquiry: str, timeout: float) -> str:
        """Send one 270, return the 271 text. Raises ExchangeUnavailable or ExchangeRefused."""


class HttpEligibilityExchange:
    """POST /v1/eligibility with the 270; `Idempotency-Key` is the check id."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url)

    async def exchange(self, check_id: str, inquiry: str, timeout: float) -> str:
        try:
            response = await self._client.post(
                "/v1/eligibility", content=inquiry.encode(), timeout=timeout,
                headers={"Content-Type": X12_MEDIA_TYPE, "Idempotency-Key": check_id})
        except httpx.TimeoutException:
            raise ExchangeUnavailable("timeout") from None
        except httpx.HTTPError as exc:
            raise ExchangeUnavailable(type(exc).__name__) from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise ExchangeUnavailable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ExchangeRefused(f"HTTP {response.status_code}: {response.text[:200]}")
        return response.text

    async def close(self) -> None:
        await self._client.aclose()


class PayerLimiter:
    """At most `limit` exchanges with one payer at a time in this process (the worker and the API
    share it: the eligibility service runs as one process)."""

    def __init__(self, limit: int) -> None:
        self._semaphores: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(limit))

    @asynccontextmanager
    async def slot(self, payer_id: str) -> AsyncIterator[None]:
        async with self._semaphores[payer_id]:
            yield
