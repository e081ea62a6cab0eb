"""Events produced by the denials context. Key: the claim id."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from openrcm_shared.contracts import topics
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.money import Money


class DenialCaseOpened(IntegrationEvent):
    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_opened.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    payer_id: str
    denied_amount: Money
    primary_carc: str
    appeal_deadline: date


class DenialCaseClosed(IntegrationEvent):
    """A case left the worklist without an appeal: the payer reversed the decision it was about."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_closed.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    reason: str


class DenialCaseStatusChanged(IntegrationEvent):
    """A case moved on the worklist (openrcm_denials.domain.case_status lists the moves)."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_status_changed.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    from_status: str
    to_status: str
    # The token subject of the person who moved it; None when the system did (an 835 settled it).
    changed_by: str | None = None
    reason: str | None = None
    # What the payer paid toward the denied amount since the case opened, when the move settles it.
    amount_recovered: Money | None = None


class DenialWrittenOff(IntegrationEvent):
    """A denied amount the practice gave up on (approved by a second person above the practice's
    threshold): collections and the ledgers take it off the claim's receivable."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_written_off.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    payer_id: str
    amount: Money
    reason: str
    requested_by: str
    approved_by: str | None = None  # None: under the threshold, no second approval needed


class DenialTransferredToPatient(IntegrationEvent):
    """The denied amount is the patient's to pay (a non-covered service the patient agreed to, a
    deductible the payer applied as a denial): collections bills the patient."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_transferred_to_patient.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    patient_id: str
    payer_id: str
    amount: Money
    reason: str
    requested_by: str


class SecondaryBillingRequested(IntegrationEvent):
    """The payer denied for coordination of benefits (another payer is primary, or this one pays
    second): claims bills the patient's next payer if it knows one."""

    event_type: ClassVar[str] = "org.openrcm.denials.secondary_billing_requested.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    payer_id: str
    amount: Money
    requested_by: str


class LineCorrection(BaseModel):
    """What changes on one billed line (None: as billed)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    line_number: int
    procedure_code: str | None = None
    modifiers: list[str] | None = None
    units: Decimal | None = None
    diagnosis_pointers: list[int] | None = None


class CorrectedClaimRequested(IntegrationEvent):
    """A denial case asks claims to replace the claim the payer has (frequency 7, REF*F8 its payer
    claim control number) with these corrections applied to the billed encounter."""

    event_type: ClassVar[str] = "org.openrcm.denials.corrected_claim_requested.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    request_id: UUID
    lines: list[LineCorrection] = []
    diagnosis_codes: list[str] | None = None  # the claim's diagnoses, replaced in order when given
    reason: str
    requested_by: str
