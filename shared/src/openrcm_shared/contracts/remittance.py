"""Events produced by the remittance context.

An ERA covers many claims: `RemittanceReceived` is keyed by the remittance id, and each claim's
outcome is published on its own, keyed by the claim id, so it lands in that claim's ordered stream.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from openrcm_shared.contracts import topics
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.money import Money

# CAS claim adjustment group codes (X12 005010X221A1, CAS01).
GroupCode = Literal["CO", "PR", "OA", "PI", "CR"]
ClaimOutcome = Literal["paid", "partially_paid", "denied"]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Adjustment(_Part):
    line_number: int | None = None
    group_code: GroupCode
    carc: str
    amount: Money


class PostedLine(_Part):
    line_number: int
    charge_amount: Money
    allowed_amount: Money
    paid_amount: Money
    patient_responsibility_amount: Money


class RemittanceReceived(IntegrationEvent):
    event_type: ClassVar[str] = "org.openrcm.remittance.remittance_received.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "remittance_id"

    remittance_id: UUID
    payer_id: str
    trace_number: str
    payment_amount: Money
    payment_date: date
    claim_count: int
    received_at: datetime


class ClaimPaymentPosted(IntegrationEvent):
    event_type: ClassVar[str] = "org.openrcm.remittance.claim_payment_posted.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    remittance_id: UUID
    patient_id: str
    payer_id: str
    patient_control_number: str
    outcome: ClaimOutcome
    charge_amount: Money
    allowed_amount: Money
    paid_amount: Money
    patient_responsibility_amount: Money
    adjustments: list[Adjustment]
    lines: list[PostedLine]


class DeniedItem(_Part):
    line_number: int | None = None  # None: the whole claim was denied
    group_code: GroupCode
    carc: str
    rarcs: list[str] = []
    amount: Money


class ClaimDenied(IntegrationEvent):
    event_type: ClassVar[str] = "org.openrcm.remittance.claim_denied.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    remittance_id: UUID
    patient_id: str
    payer_id: str
    patient_control_number: str
    denied_amount: Money
    denials: list[DeniedItem]
