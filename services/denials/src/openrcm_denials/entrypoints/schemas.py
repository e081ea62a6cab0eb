"""Request and response bodies of the denials API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from openrcm_denials.domain.case_status import CaseStatus
from openrcm_denials.domain.categories import Action, Category, Team
from openrcm_denials.service_layer.claim_timeline import TimelineEntryOut
from openrcm_shared.money import Money

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
NoteText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
WindowDays = Annotated[int, Field(ge=1, le=3650)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeniedItemOut(BaseModel):
    line_number: int | None
    group_code: str
    carc: str
    rarcs: list[str]
    amount: Money


class PriorityOut(BaseModel):
    """priority = recoverable_amount x likelihood x urgency (docs/denials.md)."""

    recoverable_amount: Money | None = None
    likelihood: Decimal | None = None
    likelihood_basis: Literal["category", "payer_history"] | None = None
    outcomes_seen: int | None = None
    days_left: int | None = None
    urgency: Decimal | None = None


class DenialCaseOut(BaseModel):
    id: UUID
    claim_id: UUID
    remittance_id: UUID
    patient_control_number: str
    payer_id: str
    status: CaseStatus
    denied_amount: Money
    primary_group_code: str
    primary_carc: str
    denials: list[DeniedItemOut]
    appeal_deadline: date
    opened_at: datetime
    category: Category | None = None
    core_scenario: int | None = None
    owning_team: Team | None = None
    preventable: bool | None = None
    recommended_action: Action | None = None
    rule: str | None = None
    rule_why: str | None = None
    mapping_version: str | None = None
    recoverable_amount: Money
    priority: Money
    priority_parts: PriorityOut
    corrected_claim_deadline: date | None = None
    work_deadline: date | None = None
    payer_claim_control_number: str | None = None
    assignee: str | None = None
    assignee_kind: Literal["person", "team"] | None = None
    due_date: date | None = None
    status_changed_at: datetime | None = None
    resolved_at: datetime | None = None
    amount_recovered: Money | None = None


class CodeOut(BaseModel):
    code: str
    description: str | None


class DenialLineOut(BaseModel):
    line_number: int | None
    procedure_code: str | None
    group_code: str
    carc: CodeOut
    rarcs: list[CodeOut]
    amount: Money
    is_denial: bool
    category: Category | None
    rule: str
    why: str


class NoteOut(BaseModel):
    id: UUID
    author: str | None
    body: str
    created_at: datetime


class TaskOut(BaseModel):
    id: UUID
    kind: str
    description: str
    assignee: str | None
    due_date: date | None
    status: Literal["open", "done", "cancelled"]
    created_by: str | None
    created_at: datetime
    closed_by: str | None = None
    closed_at: datetime | None = None


class ClaimFactsOut(BaseModel):
    """The payer's decision in the remittance the case came from."""

    outcome: str
    claim_status_code: str | None
    payer_claim_control_number: str | None
    adjudicated_on: date
    charge_amount: Money
    allowed_amount: Money
    paid_amount: Money
    patient_responsibility_amount: Money
    lines: list[dict]


class AppealOut(BaseModel):
    id: UUID
    case_id: UUID
    claim_id: UUID
    level: str
    category: str
    argument: str
    attachment_ids: list[UUID]
    late_reason: str | None
    letter_sha256: str
    status: str
    created_by: str
    created_at: datetime
    submission_method: str | None
    submitted_on: date | None
    payer_reference: str | None
    decision: str | None
    amount_overturned: Money | None
    decided_on: date | None


def appeal_out(row) -> AppealOut:
    return AppealOut(**{name: getattr(row, name) for name in AppealOut.model_fields})


class DenialCaseDetailOut(DenialCaseOut):
    lines: list[DenialLineOut]
    notes: list[NoteOut]
    tasks: list[TaskOut]
    claim: ClaimFactsOut | None
    # The claim's submission and adjudication history, from the claims and remittance events.
    history: list[TimelineEntryOut] = []
    # The case's appeals, oldest first, with their submission and the payer's decision.
    appeals: list[AppealOut] = []


class StatusIn(_In):
    status: CaseStatus
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    amount_recovered: Money | None = None


class StatusOut(BaseModel):
    id: UUID
    from_status: CaseStatus
    status: CaseStatus


class AssignmentIn(_In):
    assignee: ShortText | None = None  # None: unassign
    assignee_kind: Literal["person", "team"] | None = None
    due_date: date | None = None


class BulkAssignmentIn(AssignmentIn):
    case_ids: list[UUID] = Field(min_length=1, max_length=500)


class AssignmentOut(BaseModel):
    case_ids: list[UUID]
    assignee: str | None
    assignee_kind: str | None
    due_date: date | None


class NoteIn(_In):
    body: NoteText


class TaskIn(_In):
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    assignee: ShortText | None = None  # a person; the clinical team when none
    due_date: date | None = None


class TaskCloseIn(_In):
    status: Literal["done", "cancelled"] = "done"


class PayerSettingsIn(_In):
    appeal_level1_days: WindowDays = 90
    appeal_level2_days: WindowDays = 60
    external_review_days: WindowDays = 60
    corrected_claim_days: WindowDays = 90


class PayerSettingsOut(PayerSettingsIn):
    model_config = ConfigDict(extra="ignore")
    payer_id: str
    configured: bool  # False: the defaults, nothing set for this payer
    updated_by: str | None = None
    updated_at: datetime | None = None


class OverrideIn(_In):
    category: Category
    owning_team: Team | None = None
    recommended_action: Action | None = None
    preventable: bool | None = None


class OverrideOut(OverrideIn):
    model_config = ConfigDict(extra="ignore")
    payer_id: str
    carc: str
    updated_by: str | None
    updated_at: datetime
