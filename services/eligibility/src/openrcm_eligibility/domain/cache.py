"""When a cached answer for a coverage and date of service may be served instead of asking the payer.

A practice asks about the same patient several times a day (front desk, billing, a batch the night
before); the payer's answer does not change that fast, and payers limit inquiries. An answer is
reused unless one of the re-check rules says the payer must be asked again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

FINAL_STATUSES = frozenset({"active", "inactive"})


@dataclass(frozen=True)
class CachedAnswer:
    status: str
    checked_at: datetime
    plan_end: date | None


def recheck_reason(answer: CachedAnswer, *, now: datetime, ttl: timedelta,
                   recheck_requested_at: datetime | None) -> str | None:
    """Why the payer must be asked again, or None when the cached answer stands."""
    if answer.status not in FINAL_STATUSES:
        return "no final answer"  # errors and unknowns are never served from the cache
    if now - answer.checked_at >= ttl:
        return "older than the cache time to live"
    if (answer.checked_at.year, answer.checked_at.month) != (now.year, now.month):
        return "a new month"  # Medicaid and many plans re-determine eligibility monthly
    if answer.plan_end is not None and answer.plan_end < now.date():
        return "the plan end date has passed"
    if recheck_requested_at is not None and recheck_requested_at >= answer.checked_at:
        return "a claim was denied for eligibility since"
    return None
