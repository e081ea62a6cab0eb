"""Appeal deadlines."""

from __future__ import annotations

from datetime import date, timedelta

# Commercial payers commonly allow 90 to 180 days from the remittance date to appeal; Medicare's
# first level (redetermination) allows 120 days (42 CFR 405.942). Until per-payer limits are
# configured (a later issue), the shortest common window is used so no deadline is overstated.
DEFAULT_APPEAL_WINDOW_DAYS = 90


def appeal_deadline(remittance_date: date, window_days: int = DEFAULT_APPEAL_WINDOW_DAYS) -> date:
    return remittance_date + timedelta(days=window_days)


def primary_reason(denials: list) -> tuple[str, str]:
    """The (group code, CARC) carrying the most money: what the worker looks at first."""
    top = max(denials, key=lambda d: d.amount)
    return top.group_code, top.carc
