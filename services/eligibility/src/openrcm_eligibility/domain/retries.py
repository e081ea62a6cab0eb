"""Backoff for transient failures of an eligibility exchange (AAA 42/80, timeouts, 5xx)."""

from __future__ import annotations

import random


def retry_delay(attempt: int, *, base_seconds: float, max_seconds: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): exponential, capped, full jitter
    (a random point in [cap/2, cap], so retries of a busy payer do not arrive together)."""
    cap = min(max_seconds, base_seconds * 2 ** (attempt - 1))
    return (rng or random).uniform(cap / 2, cap)
