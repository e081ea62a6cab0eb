"""Events produced by the eligibility context. Key: the patient id."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from openrcm_shared.contracts import topics
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.money import NonNegativeMoney


class EligibilityChecked(IntegrationEvent):
    event_type: ClassVar[str] = "org.openrcm.eligibility.eligibility_checked.v1"
    topic: ClassVar[str] = topics.ELIGIBILITY
    key_field: ClassVar[str] = "patient_id"

    check_id: UUID
    patient_id: str
    payer_id: str
    coverage_active: bool
    copay_amount: NonNegativeMoney | None = None
    deductible_amount: NonNegativeMoney | None = None
    deductible_remaining: NonNegativeMoney | None = None
    coinsurance_percent: Decimal | None = None
    checked_at: datetime
