"""Deadlines: appeal windows per level and the corrected-claim filing limit, per payer.

Defaults (a practice sets its payers' own with PUT /v1/payers/{payer_id}/denial-settings). They are the
short end of what payers allow, so no deadline shown is later than the real one:
- level 1, 90 days from the remittance date: commercial plans commonly allow 90 to 180 days; Medicare's
  redetermination allows 120 days from the initial determination (42 CFR 405.942);
- level 2, 60 days from the level-1 decision: commercial second levels commonly allow 60 days; Medicare's
  reconsideration allows 180 days (42 CFR 405.962);
- external review, 60 days from the level-2 decision: Medicare's ALJ hearing allows 60 days (42 CFR 405.1002);
  ACA non-grandfathered plans allow four months (45 CFR 147.136(d));
- corrected claim, 90 days from the remittance date: commercial plans commonly take corrections within 90
  to 180 days of the original decision, always within the timely-filing limit from the date of service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

DEFAULT_APPEAL_WINDOW_DAYS = 90
AppealLevel = Literal["level1", "level2", "external_review"]


@dataclass(frozen=True)
class DenialWindows:
    appeal_level1_days: int = DEFAULT_APPEAL_WINDOW_DAYS
    appeal_level2_days: int = 60
    external_review_days: int = 60
    corrected_claim_days: int = 90

    def appeal_days(self, level: AppealLevel) -> int:
        return {"level1": self.appeal_level1_days, "level2": self.appeal_level2_days,
                "external_review": self.external_review_days}[level]


DEFAULT_WINDOWS = DenialWindows()


def appeal_deadline(remittance_date: date, window_days: int = DEFAULT_APPEAL_WINDOW_DAYS) -> date:
    return remittance_date + timedelta(days=window_days)


def level_deadline(decision_date: date, level: AppealLevel, windows: DenialWindows = DEFAULT_WINDOWS) -> date:
    """The last day to file `level`: level 1 counts from the remittance date, the next levels from the
    previous level's decision."""
    return decision_date + timedelta(days=windows.appeal_days(level))


def corrected_claim_deadline(remittance_date: date, windows: DenialWindows = DEFAULT_WINDOWS) -> date:
    return remittance_date + timedelta(days=windows.corrected_claim_days)


def work_deadline(recommended_action: str | None, appeal_by: date, correct_by: date) -> date:
    """The deadline of what the case recommends: a corrected claim's filing limit when it should be
    corrected and resubmitted, the level-1 appeal deadline otherwise."""
    return correct_by if recommended_action == "correct_and_resubmit" else appeal_by


def primary_reason(denials: list) -> tuple[str, str]:
    """The (group code, CARC) carrying the most money: what the worker looks at first."""
    top = max(denials, key=lambda d: d.amount)
    return top.group_code, top.carc
