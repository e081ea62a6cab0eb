"""The port to a clearinghouse, and its HTTP adapter.

Real clearinghouses plug in behind `Clearinghouse`; acknowledgements (999, 277CA, later 835)
come back through the webhook endpoint, not through this port.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import httpx


class ClearinghouseUnavailable(Exception):
    """The file was not taken; it stays pending and is sent again (same idempotency key)."""


class ClearinghouseRefused(Exception):
    """The clearinghouse answered that it will never take this file (a 4xx other than 408/429):
    sending it again cannot help, so the file is marked refused and its claims held."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status, self.detail = status, detail


class Clearinghouse(Protocol):
    async def submit(self, submission_id: UUID, x12: bytes) -> str:
        """Hand over one 837 file; returns the clearinghouse's batch id. Idempotent per submission id."""

    async def claim_status(self, inquiry_id: UUID, x12: bytes) -> str:
        """Send one 276 and return the payer's 277 (real-time). Idempotent per inquiry id."""


class HttpClearinghouse:
    """POST /v1/batches with the raw X12; `Idempotency-Key` is our submission id, so a retry after
    a lost answer never submits the file twice."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def submit(self, submission_id: UUID, x12: bytes) -> str:
        response = await self._post_x12("/v1/batches", submission_id, x12)
        return str(response.json()["batch_id"])

    async def claim_status(self, inquiry_id: UUID, x12: bytes) -> str:
        """POST /v1/claim-status with the 276; the answer's body is the 277."""
        return (await self._post_x12("/v1/claim-status", inquiry_id, x12)).text

    async def _post_x12(self, path: str, idempotency_key: UUID, x12: bytes) -> httpx.Response:
        """One X12 exchange: transport errors, 5xx, 408 and 429 are ClearinghouseUnavailable (try
        again with the same key), any other 4xx ClearinghouseRefused."""
        try:
            response = await self._client.post(
                path, content=x12,
                headers={"Content-Type": "application/edi-x12", "Idempotency-Key": str(idempotency_key)})
        except httpx.HTTPError as exc:
            raise ClearinghouseUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise ClearinghouseUnavailable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ClearinghouseRefused(response.status_code, _refusal_detail(response))
        return response

    async def close(self) -> None:
        await self._client.aclose()


def _refusal_detail(response: httpx.Response) -> str:
    """What the clearinghouse said, short (a problem document's title and detail, else the text)."""
    try:
        body = response.json()
        text = " ".join(str(body.get(key, "")) for key in ("title", "detail") if body.get(key)) or str(body)
    except ValueError:
        text = response.text
    return text[:300]
