"""The collections service's own settings (environment, prefix COLLECTIONS_)."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CollectionsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COLLECTIONS_")

    # Adjustments above this need a second person's approval (another token `sub`).
    adjustment_approval_threshold: Decimal = Decimal("100.00")
    # Standard Webhooks secrets of the payment processor's settlement webhooks (comma-separated whsec_...).
    payment_webhook_secrets: str = ""
    # Statement cycle of every account (days between statements) and days to pay a statement.
    statement_cycle_days: int = 28
    statement_due_days: int = 21
    # Payment plans: a missed installment is late for `plan_grace_days`, then the plan is delinquent;
    # `plan_default_days` after the due date it defaults and the account goes back to dunning.
    plan_grace_days: int = 10
    plan_default_days: int = 40
    # How often the scheduler looks for due installments and statement cycles (seconds).
    scheduler_interval_seconds: float = 300.0
    # The statement cycle the service runs by itself: each day, from this time (UTC, HH:MM) on, every
    # practice's accounts whose cycle has come get their statement. Empty: none (POST /v1/statement-runs only).
    statement_run_time: time | None = time(6, 0)
    # A card or ACH payment left unrecorded this long after its last step (a crash, a lost connection)
    # is settled by the scheduler: its capture recorded, or its authorization voided.
    payment_intent_grace_seconds: float = 600.0

    @field_validator("statement_run_time", mode="before")
    @classmethod
    def _no_run_when_empty(cls, value):
        return None if value in ("", None) else value

    @property
    def webhook_secrets(self) -> list[str]:
        return [secret.strip() for secret in self.payment_webhook_secrets.split(",") if secret.strip()]
