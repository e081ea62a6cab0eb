"""Denials-service settings beyond the common ones (environment, prefix OPENRCM_DENIALS_)."""

from __future__ import annotations

from decimal import Decimal

from pydantic_settings import BaseSettings, SettingsConfigDict


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
