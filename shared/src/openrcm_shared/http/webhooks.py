"""Standard Webhooks (standardwebhooks.com, spec v1): signing and verification.

A delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`:
space-separated `v1,<base64 HMAC-SHA256>` entries over "{id}.{timestamp}.{raw body}". Several
signatures (and several accepted secrets) let a sender rotate its secret without downtime.
Secrets are `whsec_` + base64 of the key bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"
SECRETS_ENV = "CLEARINGHOUSE_WEBHOOK_SECRETS"


def configured_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """The receiver's accepted secrets: `CLEARINGHOUSE_WEBHOOK_SECRETS`, comma-separated `whsec_`
    values (several while the sender rotates its secret)."""
    raw = (os.environ if env is None else env).get(SECRETS_ENV, "")
    return [secret.strip() for secret in raw.split(",") if secret.strip()]


class WebhookVerificationError(Exception):
    """The delivery is not authentic or not fresh; answer 401 and do not process it."""


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<signature>` entry for one secret."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets: Iterable[str], webhook_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers for an outgoing delivery, signed with every given secret (rotation)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(secret, webhook_id, timestamp, body) for secret in secrets),
    }


@dataclass(frozen=True)
class VerifiedDelivery:
    webhook_id: str
    timestamp: int


def verify(secrets: Iterable[str], headers: Mapping[str, str], body: bytes, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> VerifiedDelivery:
    """Accept the delivery if any of its v1 signatures matches any of our secrets and its
    timestamp is within `tolerance` of now (replay protection); otherwise raise."""
    lowered = {k.lower(): v for k, v in headers.items()}
    webhook_id = lowered.get("webhook-id")
    raw_timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not webhook_id or not raw_timestamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp outside the tolerance")
    offered = [entry.split(",", 1)[1] for entry in signatures.split() if entry.startswith("v1,")]
    for secret in secrets:
        expected = sign(secret, webhook_id, timestamp, body).split(",", 1)[1]
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return VerifiedDelivery(webhook_id, timestamp)
    raise WebhookVerificationError("no matching signature")
