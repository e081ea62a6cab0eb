"""Events produced by the eligibility context. Key: the patient id."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal
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
    # Since 270/271 (all optional: answers recorded by hand have no coverage or plan dates).
    coverage_id: str | None = None
    service_date: date | None = None
    status: Literal["active", "inactive"] | None = None
    plan_begin: date | None = None
    plan_end: date | None = None
    out_of_pocket_remaining: NonNegativeMoney | None = None
    # Another payer the 271 names as primary (EB*R with 2120 NM1*PRP): its payer id as the payer sent it.
    primary_payer_id: str | None = None
    # Service types (EB03) the payer says need prior authorization or certification (EB11 Y).
    authorization_required_service_types: list[str] = []


class CoverageInactive(IntegrationEvent):
    """A payer answered that a coverage is not active on a date of service (EB01 6/7/8)."""

    event_type: ClassVar[str] = "org.openrcm.eligibility.coverage_inactive.v1"
    topic: ClassVar[str] = topics.ELIGIBILITY
    key_field: ClassVar[str] = "patient_id"

    check_id: UUID
    patient_id: str
    coverage_id: str
    payer_id: str
    service_date: date
    plan_end: date | None = None
    checked_at: datetime


class CoverageChanged(IntegrationEvent):
    """A 271 disagrees with the coverage's previous answer: another payer is now primary, or the
    plan dates moved."""

    event_type: ClassVar[str] = "org.openrcm.eligibility.coverage_changed.v1"
    topic: ClassVar[str] = topics.ELIGIBILITY
    key_field: ClassVar[str] = "patient_id"

    check_id: UUID
    patient_id: str
    coverage_id: str
    payer_id: str
    changes: list[Literal["other_payer_primary", "plan_dates"]]
    primary_payer_id: str | None = None
    primary_payer_name: str | None = None
    plan_begin: date | None = None
    plan_end: date | None = None
    checked_at: datetime


class EligibilityBatchFinished(IntegrationEvent):
    """Every check of a batch (POST /v1/eligibility-batches) has its answer or a final error."""

    event_type: ClassVar[str] = "org.openrcm.eligibility.eligibility_batch_finished.v1"
    topic: ClassVar[str] = topics.ELIGIBILITY
    key_field: ClassVar[str] = "batch_id"

    batch_id: UUID
    check_count: int
    active: int
    inactive: int
    failed: int  # error or unknown: someone must look
    finished_at: datetime
