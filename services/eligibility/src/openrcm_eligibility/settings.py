"""Eligibility-service settings beyond the common ones (environment, prefix OPENRCM_ELIGIBILITY_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ExchangeSettings(BaseSettings):
    """How 270s go out and how long we wait.

    Without `clearinghouse_url` checks are stored pending and nothing is sent (answers can still be
    uploaded as 271 files)."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_ELIGIBILITY_", extra="ignore")

    clearinghouse_url: str | None = None
    submitter_id: str = "OPENRCM01"  # ISA06/GS02
    receiver_id: str = "CLEARINGHOUSE"  # ISA08/GS03
    usage_indicator: str = "T"  # ISA15
    # A real-time check answers within this many seconds, or 202 and the answer later.
    realtime_timeout_seconds: float = 3.0
    # One HTTP exchange may take this long before it counts as a timeout (then retried in the background).
    exchange_timeout_seconds: float = 30.0
    # Transient failures (AAA 42/80, timeouts, 5xx): retried after base * 2**(n-1) seconds (at most
    # max), with full jitter, up to max_attempts exchanges; then the check ends in error.
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    max_attempts: int = 6
    # At most this many exchanges with one payer at once (a payer's connection limit).
    payer_concurrency: int = 4
    # How often the worker looks for due checks when it found none, and how many attempts it has in
    # progress at most: well under the database pool (OPENRCM_DB_POOL_SIZE, 20 + 10 overflow), which
    # the API shares. A real-time check is attempted by the request itself; the queue holds batches,
    # retries after backoff and checks the API gave up waiting for, none of which needs to start
    # within the second. Each look is a transaction (the due checks leased): at 0.2 s they were
    # ~0.7 % of a core with nothing due, 40 % of the idle eligibility service's CPU.
    poll_interval_seconds: float = 1.0
    worker_concurrency: int = 12
    # Checks of one practice and payer due at the same time go out together in one batch 270 of at
    # most this many inquiries (1: each check its own exchange). A batch 271 answers them all.
    batch_inquiries: int = 50


class CacheSettings(BaseSettings):
    """A payer is asked again for the same coverage and date of service only when the cached
    answer is older than `ttl_hours` or a re-check rule applies (domain/cache.py)."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_ELIGIBILITY_CACHE_", extra="ignore")

    ttl_hours: float = 24.0
