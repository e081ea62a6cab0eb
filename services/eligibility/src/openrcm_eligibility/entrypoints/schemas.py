"""Bodies of the eligibility API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from openrcm_shared.money import Money, NonNegativeMoney


class EligibilityCheckIn(BaseModel):
    """A coverage answer (from a portal, a phone call, or later a 271) for one patient and payer."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    patient_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    payer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,15}$")]
    member_id: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    service_date: date | None = None
    coverage_active: bool
    plan_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    copay_amount: NonNegativeMoney | None = None
    deductible_amount: NonNegativeMoney | None = None
    deductible_remaining: NonNegativeMoney | None = None
    coinsurance_percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] | None = None
    out_of_pocket_remaining: NonNegativeMoney | None = None


class EligibilityCheckOut(BaseModel):
    id: UUID
    patient_id: str
    payer_id: str
    member_id: str
    service_date: date
    coverage_active: bool
    plan_name: str | None
    copay_amount: Money | None
    deductible_amount: Money | None
    deductible_remaining: Money | None
    coinsurance_percent: Decimal | None
    out_of_pocket_remaining: Money | None
    checked_at: datetime
