"""The denials service's settings beyond the common ones (environment, prefix OPENRCM_DENIALS_)."""

from __future__ import annotations

from decimal import Decimal

from pydantic_settings import BaseSettings, SettingsConfigDict

# How long a case may stay in each unresolved status before its service level is breached, in hours:
# a new denial is looked at within two working days, a case being worked moves within five days, clinical
# staff answer a documentation request within three days, and a payer decides a corrected claim within
# 30 days and an appeal within 45 (commercial plans commonly decide first-level appeals in 30 to 60 days).
DEFAULT_SLA_HOURS = {"open": 48, "in_progress": 120, "waiting_on_clinical": 72, "corrected_resubmitted": 720,
                     "appealed": 1080}


class WorklistSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENRCM_DENIALS_", extra="ignore")

    # JSON in the environment, e.g. OPENRCM_DENIALS_SLA_HOURS='{"open": 24}'; statuses not named keep
    # their default, a status named with 0 has no service level.
    sla_hours: dict[str, int] = {}
    # How often the background pass looks for SLA breaches, deadlines that moved a priority, payer
    # outcome history that changed, and trend episodes that ended.
    pass_interval_seconds: float = 60.0

    def sla_hours_by_status(self) -> dict[str, int]:
        hours = {**DEFAULT_SLA_HOURS, **self.sla_hours}
        return {status: value for status, value in hours.items() if value > 0}


class WorkingSettings(BaseSettings):
    """How cases are worked.

    payer_appeals_url            where appeals submitted electronically go (the clearinghouse's
                                 appeal endpoint; the simulator's base URL locally); without it only
                                 portal, fax and mail submissions can be recorded
    attachment_max_bytes         the largest attachment taken (413 above it)
    write_off_approval_threshold a write-off above this amount waits for a second person's approval
    """

    model_config = SettingsConfigDict(env_prefix="OPENRCM_DENIALS_", extra="ignore")

    payer_appeals_url: str | None = None
    attachment_max_bytes: int = 10 * 1024 * 1024
    write_off_approval_threshold: Decimal = Decimal("500.00")
