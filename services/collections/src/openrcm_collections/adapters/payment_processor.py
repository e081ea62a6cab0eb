"""The payment-processor port and its local simulator.

Card and ACH payments go through a processor: authorize, capture, refund, each idempotent by a key
we derive from the request (a retried call returns the first answer, never a second charge). We
hold only the processor's token for the payment method and its ids for the authorization and the
capture; card numbers never reach us.

`SimulatedProcessor` stands in for a real processor on a developer's machine and in tests: a token
starting `tok_decline` is declined, `tok_network_error` fails as a network error would (the caller
retries), `tok_slow` is approved after `SLOW_SECONDS`, any other `tok_` token is approved. It keeps
its answers by idempotency key in memory.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from openrcm_shared.http.webhooks import signed_headers


class ProcessorUnavailable(Exception):
    """The processor could not be reached or did not answer: nothing is known to have happened;
    the same call with the same idempotency key is safe to retry."""


@dataclass(frozen=True)
class ProcessorAnswer:
    status: Literal["approved", "declined"]
    processor_id: str | None = None  # the authorization's, capture's or refund's id at the processor
    decline_code: str | None = None


class PaymentProcessor(Protocol):
    async def authorize(self, token: str, amount: Decimal, idempotency_key: str,
                        metadata: dict[str, str]) -> ProcessorAnswer: ...

    async def capture(self, authorization_id: str, amount: Decimal, idempotency_key: str) -> ProcessorAnswer: ...

    async def refund(self, capture_id: str, amount: Decimal, idempotency_key: str) -> ProcessorAnswer: ...

    async def void(self, authorization_id: str, idempotency_key: str) -> ProcessorAnswer:
        """Release an authorization never captured (the hold on the card or account goes)."""

    async def answered(self, operation: str, idempotency_key: str) -> ProcessorAnswer | None:
        """What the processor answered to the call with this key (None: it never took that call).
        Processors keep their idempotent answers for a day or more; reconciliation asks well within."""


SLOW_SECONDS = 2.0  # how long the simulator thinks about a `tok_slow` token (a processor having a bad day)


class SimulatedProcessor:
    """Approvals, declines, slow answers and network errors by token, idempotent by key (in memory)."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str], ProcessorAnswer] = {}
        self._captured: dict[str, Decimal] = {}  # capture id -> amount still refundable
        self.voided: set[str] = set()  # authorization ids released

    async def authorize(self, token: str, amount: Decimal, idempotency_key: str,
                        metadata: dict[str, str]) -> ProcessorAnswer:
        if token.startswith("tok_slow") and ("authorize", idempotency_key) not in self._answers:
            await asyncio.sleep(SLOW_SECONDS)

        def decide() -> ProcessorAnswer:
            if token.startswith("tok_network_error"):
                raise ProcessorUnavailable("simulated network error")
            if token.startswith("tok_decline"):
                return ProcessorAnswer("declined", decline_code="card_declined")
            return ProcessorAnswer("approved", f"auth_{uuid.uuid4().hex}")
        return self._once("authorize", idempotency_key, decide)

    async def capture(self, authorization_id: str, amount: Decimal, idempotency_key: str) -> ProcessorAnswer:
        def decide() -> ProcessorAnswer:
            capture_id = f"cap_{uuid.uuid4().hex}"
            self._captured[capture_id] = amount
            return ProcessorAnswer("approved", capture_id)
        return self._once("capture", idempotency_key, decide)

    async def refund(self, capture_id: str, amount: Decimal, idempotency_key: str) -> ProcessorAnswer:
        def decide() -> ProcessorAnswer:
            if self._captured.get(capture_id, Decimal(0)) < amount:
                return ProcessorAnswer("declined", decline_code="exceeds_captured_amount")
            self._captured[capture_id] -= amount
            return ProcessorAnswer("approved", f"ref_{uuid.uuid4().hex}")
        return self._once("refund", idempotency_key, decide)

    async def void(self, authorization_id: str, idempotency_key: str) -> ProcessorAnswer:
        def decide() -> ProcessorAnswer:
            self.voided.add(authorization_id)
            return ProcessorAnswer("approved", authorization_id)
        return self._once("void", idempotency_key, decide)

    async def answered(self, operation: str, idempotency_key: str) -> ProcessorAnswer | None:
        return self._answers.get((operation, idempotency_key))

    def _once(self, operation: str, idempotency_key: str, decide) -> ProcessorAnswer:
        key = (operation, idempotency_key)
        if key not in self._answers:
            self._answers[key] = decide()
        return self._answers[key]


def settlement_delivery(secrets: list[str], kind: Literal["payment.settled", "payment.returned"], capture_id: str,
                        tenant_id: str, reason: str | None = None) -> tuple[dict[str, str], bytes]:
    """A settlement webhook as the simulated processor sends it (Standard Webhooks headers, signed
    with each secret): the capture it is about and the metadata (practice) given at authorization."""
    body = json.dumps({"type": kind, "data": {"capture_id": capture_id, "tenant_id": tenant_id,
                                               "reason": reason}}).encode()
    return signed_headers(secrets, f"evt_{uuid.uuid4().hex}", body), body
