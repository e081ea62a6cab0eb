"""Events produced by the denials context. Key: the claim id."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal
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
    # The category of the line with the most money (openrcm_denials.domain.categories) and the
    # mapping version that gave it; absent on cases opened before categorization.
    category: str | None = None
    mapping_version: str | None = None


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


class DenialCaseRecategorized(IntegrationEvent):
    """A case's category changed after it opened: the payer's remark codes refined it, or the practice
    overrode the mapping for this payer."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_recategorized.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    from_category: str | None
    to_category: str
    rule: str
    mapping_version: str


class DenialCaseAssigned(IntegrationEvent):
    """A case was given to a person (the token subject they sign in with) or a team, with a due date."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_assigned.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    assignee: str | None
    assignee_kind: Literal["person", "team"] | None
    due_date: date | None = None
    assigned_by: str | None = None


class DenialCaseNoteAdded(IntegrationEvent):
    """A note was written on a case. The note's text stays in the denials service (it may hold clinical
    details): the event names the note and its author only."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_note_added.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    note_id: UUID
    author: str | None


class DenialCaseTaskChanged(IntegrationEvent):
    """A task on a case (a documentation request to clinical staff) was opened, completed or cancelled."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_task_changed.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    task_id: UUID
    kind: str
    status: Literal["open", "done", "cancelled"]
    assignee: str | None = None
    due_date: date | None = None
    changed_by: str | None = None


class DenialCaseSlaBreached(IntegrationEvent):
    """A case stayed in one status longer than the practice's service level allows (announced once per
    stay in that status)."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_sla_breached.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    status: str
    sla_hours: int
    in_status_since: datetime
    breached_at: datetime
    assignee: str | None = None


class DenialTrendDetected(IntegrationEvent):
    """A payer denies a procedure for one category far more than it used to: the 7-day denial rate is
    at least the spike ratio times the 90-day baseline (openrcm_denials.domain.trends). Once per episode."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_trend_detected.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "payer_id"

    episode_id: UUID
    payer_id: str
    procedure_code: str | None
    category: str
    detected_on: date
    denials_7d: int
    adjudicated_7d: int
    rate_7d: Decimal
    baseline_rate: Decimal
    ratio: Decimal


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


class ExpectedDenialOpened(IntegrationEvent):
    """A claim the payer already has is likely to be denied (the claims service's ClaimDenialExpected:
    the payer answered an eligibility check that the coverage is inactive on a date of service the
    claim bills): an expected-denial item is on the denials worklist until the payer's remittance or a
    person settles it. One open item per claim."""

    event_type: ClassVar[str] = "org.openrcm.denials.expected_denial_opened.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    expected_denial_id: UUID
    claim_id: UUID
    payer_id: str
    reason: str  # coverage_inactive
    eligibility_check_id: UUID
    service_date: date
    billed_amount: Money | None = None  # None: the claim's ClaimSubmitted had not reached denials
    flagged_at: datetime


class ExpectedDenialReflagged(IntegrationEvent):
    """Another eligibility check found the coverage inactive for a claim whose expected-denial item is
    still open: the item stays open and now names this check and date of service."""

    event_type: ClassVar[str] = "org.openrcm.denials.expected_denial_reflagged.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    expected_denial_id: UUID
    claim_id: UUID
    payer_id: str
    eligibility_check_id: UUID
    service_date: date
    flagged_at: datetime


class ExpectedDenialReopened(IntegrationEvent):
    """The payer took back the payment that had settled an expected denial `paid` (ClaimReversed: a
    recoupment, as when coverage is terminated retroactively): the item is open again until the
    payer's corrected decision or a person settles it."""

    event_type: ClassVar[str] = "org.openrcm.denials.expected_denial_reopened.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    expected_denial_id: UUID
    claim_id: UUID
    payer_id: str
    remittance_id: UUID  # the remittance that reversed the payment


class ExpectedDenialResolved(IntegrationEvent):
    """An expected-denial item left the worklist: the payer denied the claim (`denied`, with the denial
    case opened for it) or paid on it (`paid`), or a person settled it (`coverage_corrected`,
    `billed_other_payer`, `billed_patient`, `no_action`; their note stays in the denials service)."""

    event_type: ClassVar[str] = "org.openrcm.denials.expected_denial_resolved.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    expected_denial_id: UUID
    claim_id: UUID
    payer_id: str
    resolution: str
    # The token subject of the person who resolved it; None when the payer's remittance did.
    resolved_by: str | None = None
    denial_case_id: UUID | None = None
    remittance_id: UUID | None = None
