"""Webhook delivery of acknowledgements and remittances: signed, in order, retried with bounded backoff.

Two destinations, each with its own ordered queue (a slow remittance receiver never delays the
acknowledgements): 999s and 277CAs go to CLEARINGHOUSE_WEBHOOK_URL (the claims service), 835s to
CLEARINGHOUSE_REMITTANCE_WEBHOOK_URL (the remittance service).

Contract (what a receiver sees):
- POST to the destination's URL, body = the raw X12 document, `Content-Type: application/edi-x12`;
- Standard Webhooks headers `webhook-id`, `webhook-timestamp`, `webhook-signature` (v1 HMAC-SHA256
  over "{id}.{timestamp}.{body}", one signature per configured secret);
- the webhook-id is fixed per document (`<batch id>.999.<n>`, `<batch id>.277ca`,
  `<batch id>.835.<n>`), so a redelivery carries the same id and the receiver deduplicates it; the
  timestamp and signature are fresh on every attempt (the receiver's five-minute tolerance holds
  however long the retries take);
- per destination, one worker sends the documents one after another in the order they were
  produced, so a batch's 999 is delivered (2xx) before its 277CA is attempted;
- a document that depends on others (a 277CA on its 999s, an 835 on its batch's 277CA and on the
  835 whose payment it reverses) waits until they are settled, in whichever queue, and is held,
  never sent ahead of them, unless they were delivered;
- 2xx is success; network errors, timeouts, 408, 429 and 5xx are retried with exponential
  backoff and full jitter, bounded by attempts and elapsed time; any other 4xx is permanent.

Every document also stays in the clearinghouse's mailbox (batches.Clearinghouse.mailbox), where the
receivers take what a webhook did not deliver. For trying that, `drop_kinds` makes the sender give
up on documents of those kinds at once, as if every attempt had failed (`PUT /v1/delivery-faults`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from openrcm_shared.http.webhooks import signed_headers
from openrcm_clearinghouse_sim.settings import DeliveryPolicy
from openrcm_clearinghouse_sim.x12_requests import X12_MEDIA_TYPE

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 429})
ACKNOWLEDGEMENTS = "acknowledgements"  # 999 and 277CA, to the claims service
REMITTANCES = "remittances"  # 835, to the remittance service


@dataclass(eq=False)
class OutboundDocument:
    """One document to deliver, and how its delivery went."""

    webhook_id: str
    kind: str  # "999", "277CA" or "835"
    body: bytes
    depends_on: tuple[OutboundDocument, ...] = ()  # what must be delivered first (999s before a 277CA, ...)
    destination: str = ACKNOWLEDGEMENTS
    status: str = "pending"  # pending | delivered | failed | held
    attempts: int = 0
    last_error: str | None = None
    delivered_at: float | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    # Set once the delivery is final (delivered, failed or held); cleared when queued again.
    settled: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def summary(self) -> dict:
        return {"webhook_id": self.webhook_id, "kind": self.kind, "status": self.status,
                "attempts": self.attempts, "last_error": self.last_error}


class PermanentDeliveryError(Exception):
    """The receiver refused the document in a way a retry will not fix."""


class WebhookSender:
    """One ordered delivery queue per destination, all drained by one worker task (`run`)."""

    def __init__(self, url: str | None, secrets: tuple[str, ...], policy: DeliveryPolicy,
                 client: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, *,
                 remittance_url: str | None = None) -> None:
        self._urls = {ACKNOWLEDGEMENTS: url, REMITTANCES: remittance_url}
        self._secrets = secrets
        self._policy = policy
        self._client = client or httpx.AsyncClient(timeout=policy.request_timeout_seconds)
        self._sleep = sleep
        self._queues: dict[str, asyncio.Queue[OutboundDocument]] = {name: asyncio.Queue() for name in self._urls}
        self.drop_kinds: set[str] = set()  # kinds given up on without an attempt (a fault to try the mailbox)

    def enqueue(self, document: OutboundDocument) -> None:
        document.status = "pending"
        document.settled.clear()
        self._queues[document.destination].put_nowait(document)

    async def run(self) -> None:
        """Deliver forever: every destination's queue in enqueue order, the destinations side by side.
        If one drain stops (it never should), the task ends and /readyz reports it."""
        await asyncio.gather(*(self._drain(queue) for queue in self._queues.values()))

    async def _drain(self, queue: asyncio.Queue[OutboundDocument]) -> None:
        while True:
            document = await queue.get()
            try:
                await self.deliver(document)
            except Exception:  # a bug must not stop every later delivery
                log.exception("webhook delivery crashed", extra={"webhook_id": document.webhook_id})
                document.status, document.last_error = "failed", "internal error"
            finally:
                document.settled.set()

    async def deliver(self, document: OutboundDocument) -> None:
        await self._wait_for_dependencies(document)
        undelivered = [earlier.webhook_id for earlier in document.depends_on if earlier.status != "delivered"]
        if undelivered:
            document.status = "held"
            document.last_error = f"held until {', '.join(undelivered)} is delivered"
            return
        if document.kind in self.drop_kinds:
            document.status, document.last_error = "failed", "dropped (delivery fault switched on)"
            return
        url = self._urls.get(document.destination)
        if not url or not self._secrets:
            document.status, document.last_error = "failed", "no webhook URL or secret configured"
            return
        document.status = "pending"
        started = time.monotonic()
        while True:
            document.attempts += 1
            try:
                await self._post(document, url)
            except PermanentDeliveryError as exc:
                document.status, document.last_error = "failed", str(exc)
                break
            except (httpx.HTTPError, _RetryableStatus) as exc:
                document.last_error = _describe(exc)
                delay = self._backoff(document.attempts)
                if (document.attempts >= self._policy.max_attempts
                        or time.monotonic() - started + delay > self._policy.max_elapsed_seconds):
                    document.status = "failed"
                    break
                log.info("webhook delivery failed; retrying",
                         extra={"webhook_id": document.webhook_id, "attempt": document.attempts, "delay": delay})
                await self._sleep(delay)
            else:
                document.status, document.last_error, document.delivered_at = "delivered", None, time.time()
                break

    async def _wait_for_dependencies(self, document: OutboundDocument) -> None:
        """Wait (bounded by the delivery time budget) until every document this one follows is
        settled; one still in flight in another queue may yet be delivered."""
        unsettled = [earlier.settled.wait() for earlier in document.depends_on if not earlier.settled.is_set()]
        if unsettled:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*unsettled), timeout=self._policy.max_elapsed_seconds)

    async def _post(self, document: OutboundDocument, url: str) -> None:
        headers = {"Content-Type": X12_MEDIA_TYPE, "X-Clearinghouse-Document": document.kind,
                   **signed_headers(self._secrets, document.webhook_id, document.body)}
        response = await self._client.post(url, content=document.body, headers=headers)
        if response.is_success:
            return
        if response.status_code >= 500 or response.status_code in RETRYABLE_STATUSES:
            raise _RetryableStatus(response.status_code)
        raise PermanentDeliveryError(f"receiver answered {response.status_code}")

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._policy.base_delay_seconds * 2 ** (attempt - 1), self._policy.max_delay_seconds)
        return random.uniform(0, ceiling)  # full jitter: retries of many batches do not line up

    async def aclose(self) -> None:
        await self._client.aclose()


class _RetryableStatus(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"receiver answered {status_code}")


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, _RetryableStatus) else type(exc).__name__
