"""Retention: tables that would otherwise grow for as long as the system runs are pruned by age.

Guarantees:
- Only rows older than their table's retention go, and never rows still needed: each rule
  says which rows are finished (a delivery not yet applied, a file not yet posted, stay).
- Deleting is done in bounded batches (`OPENRCM_RETENTION_BATCH_ROWS` rows a statement, each its
  own short transaction, a pause between them), so pruning a backlog never holds long locks or
  one huge transaction; a pass runs every `OPENRCM_RETENTION_INTERVAL_SECONDS`.
- One process per service prunes: the pass runs under a PostgreSQL advisory lock (as the outbox
  relay does), the other processes skip it. Should two overlap all the same, deleting the same old
  rows twice is harmless.

Each table's retention is `OPENRCM_RETENTION_<TABLE>_DAYS` (0 keeps its rows for ever):

| table | default | why |
|---|---|---|
| inbox | 35 days | longer than any way an event can come again: a topic keeps events 14 days and a DLQ 30, and a replay repeated within a DLQ's life must still find the event applied |
| idempotency_keys | 7 days | a client retries a request within minutes, at most days |

and the services' own rules (claims: clearinghouse deliveries; remittance: stored 835 files; eligibility:
uploaded 271 files).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_shared.leadership import AdvisoryLockLeadership, being_cancelled
from openrcm_shared.observability import RETENTION_PRUNED

log = logging.getLogger(__name__)

# Deletes up to `limit` rows older than `cutoff` on `conn`; returns how many it deleted.
PruneBatch = Callable[[AsyncConnection, datetime, int], Awaitable[int]]


@dataclass(frozen=True)
class RetentionRule:
    """One table's pruning: its name (which names its setting, OPENRCM_RETENTION_<NAME>_DAYS),
    its default retention in days, and how a batch of its finished rows is deleted.
    `batch_rows`, when set, bounds a batch instead of the common setting (rows that carry
    megabytes each)."""

    name: str
    default_days: int
    prune_batch: PruneBatch
    batch_rows: int | None = None

    @property
    def setting(self) -> str:
        return f"OPENRCM_RETENTION_{self.name.upper()}_DAYS"


def older_rows(table: str, time_column: str, finished: str = "TRUE") -> PruneBatch:
    """A batch of `table`'s rows whose `time_column` is before the cutoff and that are `finished`
    (an SQL condition, from code, never from input): located through the index on the time
    column, deleted by row address."""
    statement = sa.text(
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {table} WHERE {time_column} < :cutoff AND ({finished}) LIMIT :limit)) "
        f"AND {time_column} < :cutoff AND ({finished})")

    async def prune_batch(conn: AsyncConnection, cutoff: datetime, limit: int) -> int:
        return (await conn.execute(statement, {"cutoff": cutoff, "limit": limit})).rowcount

    return prune_batch


# The messaging tables every service keeps (openrcm_shared.messaging.tables).
INBOX = RetentionRule("inbox", 35, older_rows("inbox", "processed_at"))
IDEMPOTENCY_KEYS = RetentionRule("idempotency_keys", 7, older_rows("idempotency_keys", "created_at"))
SHARED_RULES = (INBOX, IDEMPOTENCY_KEYS)


class RetentionSettings(BaseSettings):
    """`OPENRCM_RETENTION_INTERVAL_SECONDS`, `_BATCH_ROWS`, `_PAUSE_SECONDS`."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_RETENTION_", extra="ignore")

    interval_seconds: float = 600.0
    batch_rows: int = 1000
    pause_seconds: float = 0.05  # between batches, so pruning yields to the service's own work


def retention_days(rules: tuple[RetentionRule, ...] | list[RetentionRule],
                   environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Each rule's retention in days, from its setting or its default. A value that is not a
    whole number of days, or is negative, is refused here (at start-up)."""
    environ = os.environ if environ is None else environ
    days = {}
    for rule in rules:
        raw = environ.get(rule.setting, "").strip()
        try:
            value = int(raw) if raw else rule.default_days
        except ValueError:
            raise ValueError(f"{rule.setting} must be a whole number of days, not {raw!r}") from None
        if value < 0:
            raise ValueError(f"{rule.setting} must be 0 (keep for ever) or more, not {value}")
        days[rule.name] = value
    return days


class RetentionPruner:
    """Prunes a service's tables by its rules, one pass every interval, while it leads."""

    def __init__(self, engine: AsyncEngine, rules: list[RetentionRule] | tuple[RetentionRule, ...], *,
                 service_name: str, settings: RetentionSettings | None = None,
                 days: Mapping[str, int] | None = None) -> None:
        self.engine = engine
        self.rules = tuple(rules)
        self.service_name = service_name
        self.settings = settings or RetentionSettings()
        self.days = dict(days) if days is not None else retention_days(self.rules)
        # Its own lock, apart from the relay's: pruning need not run where the relay runs.
        self.leadership = AdvisoryLockLeadership(engine, f"openrcm-retention:{service_name}", role="retention")

    @property
    def lock_id(self) -> int:
        return self.leadership.lock_id

    async def run(self) -> None:
        """A pass every interval until cancelled; a failed pass is logged and tried at the next."""
        while True:
            try:
                await self.prune_if_leader()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if being_cancelled():  # an error on the way out: stop, as asked
                    raise asyncio.CancelledError() from exc
                log.warning("retention pass failed; tried again at the next", extra={"error_class": type(exc).__name__})
            await asyncio.sleep(self.settings.interval_seconds)

    async def prune_if_leader(self) -> dict[str, int] | None:
        """One pass under the service's retention lock: rows deleted per rule, or None when
        another process holds the lock."""
        return await self.leadership.run_once(self.prune)

    async def prune(self) -> dict[str, int]:
        """Delete every rule's rows older than its retention, batch by batch."""
        now = datetime.now(timezone.utc)
        pruned = {}
        for rule in self.rules:
            if self.days[rule.name]:
                pruned[rule.name] = await self._prune_rule(rule, now - timedelta(days=self.days[rule.name]))
        if any(pruned.values()):
            log.info("retention pass", extra={"service": self.service_name, "pruned": pruned})
        return pruned

    async def _prune_rule(self, rule: RetentionRule, cutoff: datetime) -> int:
        limit = rule.batch_rows or self.settings.batch_rows
        total = 0
        while True:
            async with self.engine.begin() as conn:
                deleted = await rule.prune_batch(conn, cutoff, limit)
            total += deleted
            RETENTION_PRUNED.labels(self.service_name, rule.name).inc(deleted)
            if deleted < limit:
                return total
            await asyncio.sleep(self.settings.pause_seconds)
