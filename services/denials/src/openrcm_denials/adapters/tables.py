"""The denials database: one case per denied claim per remittance, its categorized lines, the work on it
(notes, tasks, assignment), the practice's payer settings and overrides, and the trend buckets."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from openrcm_denials.adapters.appeal_tables import appeal_metadata
from openrcm_denials.adapters.expected_denial_tables import expected_denial_metadata
from openrcm_shared.audit.tables import audit_metadata
from openrcm_shared.messaging.tables import messaging_metadata


class DenialsTable(SQLModel, registry=registry()):
    pass


# The statuses still on someone's worklist (domain.case_status.UNRESOLVED): the worklist's indexes
# are partial on them, so the first page of a million open cases is an index scan.
UNRESOLVED_SQL = "status IN ('open', 'in_progress', 'waiting_on_clinical', 'corrected_resubmitted', 'appealed')"


def _worklist_index(name: str, *columns: str) -> sa.Index:
    return sa.Index(name, "tenant_id", *columns, "id", postgresql_where=sa.text(UNRESOLVED_SQL))


class DenialCase(DenialsTable, table=True):
    __tablename__ = "denial_cases"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "claim_id", "remittance_id", name="uq_denial_cases_claim_remittance"),
        sa.Index("ix_denial_cases_worklist", "tenant_id", "status", "denied_amount", "id"),
        _worklist_index("ix_denial_cases_open_priority", "priority"),
        _worklist_index("ix_denial_cases_open_amount", "recoverable_amount"),
        _worklist_index("ix_denial_cases_open_deadline", "work_deadline"),
        _worklist_index("ix_denial_cases_open_age", "opened_at"),
        sa.Index("ix_denial_cases_status_priority", "tenant_id", "status", "priority", "id"),
        sa.Index("ix_denial_cases_payer_outcomes", "tenant_id", "payer_id", "category", "status"),
    )

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    claim_id: UUID
    remittance_id: UUID
    patient_control_number: str = Field(sa_type=sa.String(20))
    payer_id: str = Field(sa_type=sa.Text)
    status: str = Field(sa_type=sa.Text)
    denied_amount: Decimal = Field(sa_type=sa.Numeric(12, 2))
    primary_group_code: str = Field(sa_type=sa.String(2))
    primary_carc: str = Field(sa_type=sa.Text)
    denials: list = Field(sa_type=pg.JSONB)
    appeal_deadline: date
    opened_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # Categorization (domain.categories): of the denial line with the most money.
    category: str | None = Field(default=None, sa_type=sa.Text)
    core_scenario: int | None = Field(default=None, sa_type=sa.SmallInteger)
    owning_team: str | None = Field(default=None, sa_type=sa.Text)
    preventable: bool | None = None
    recommended_action: str | None = Field(default=None, sa_type=sa.Text)
    rule: str | None = Field(default=None, sa_type=sa.Text)
    rule_why: str | None = Field(default=None, sa_type=sa.Text)
    mapping_version: str | None = Field(default=None, sa_type=sa.Text)
    # What the worklist ranks by (domain.priority): stored, recomputed when an input changes.
    recoverable_amount: Decimal = Field(default=Decimal("0.00"), sa_type=sa.Numeric(12, 2))
    priority: Decimal = Field(default=Decimal("0.00"), sa_type=sa.Numeric(14, 2))
    priority_parts: dict = Field(default_factory=dict, sa_type=pg.JSONB)
    priority_as_of: date | None = None
    remittance_date: date | None = None
    corrected_claim_deadline: date | None = None
    work_deadline: date | None = None  # the deadline of the recommended action (appeal or corrected claim)
    payer_claim_control_number: str | None = Field(default=None, sa_type=sa.Text)
    # Working the case.
    assignee: str | None = Field(default=None, sa_type=sa.Text)
    assignee_kind: str | None = Field(default=None, sa_type=sa.Text)  # person | team
    due_date: date | None = None
    status_changed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    resolved_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    amount_recovered: Decimal | None = Field(default=None, sa_type=sa.Numeric(12, 2))
    # The status whose service level was announced as breached during the current stay in it.
    sla_breached_status: str | None = Field(default=None, sa_type=sa.Text)


class DenialLine(DenialsTable, table=True):
    """One denied line (or claim-level denial) of a case, as categorized."""

    __tablename__ = "denial_lines"

    tenant_id: str = Field(sa_type=sa.Text)
    case_id: UUID = Field(primary_key=True, foreign_key="denial_cases.id", ondelete="CASCADE")
    position: int = Field(primary_key=True, sa_type=sa.SmallInteger)
    line_number: int | None = None
    procedure_code: str | None = Field(default=None, sa_type=sa.Text)
    group_code: str = Field(sa_type=sa.String(2))
    carc: str = Field(sa_type=sa.Text)
    rarcs: list = Field(sa_type=pg.ARRAY(sa.Text))
    amount: Decimal = Field(sa_type=sa.Numeric(12, 2))
    is_denial: bool
    category: str | None = Field(default=None, sa_type=sa.Text)
    rule: str = Field(sa_type=sa.Text)
    why: str = Field(sa_type=sa.Text)


class ClaimAdjudication(DenialsTable, table=True):
    """The payer's decision on a claim in one remittance (ClaimPaymentPosted): the claim's facts a case
    shows, the procedures of its lines, and the denominators of the trends."""

    __tablename__ = "claim_adjudications"

    tenant_id: str = Field(primary_key=True, sa_type=sa.Text)
    claim_id: UUID = Field(primary_key=True)
    remittance_id: UUID = Field(primary_key=True)
    payer_id: str = Field(sa_type=sa.Text)
    adjudicated_on: date
    outcome: str = Field(sa_type=sa.Text)
    claim_status_code: str | None = Field(default=None, sa_type=sa.Text)
    payer_claim_control_number: str | None = Field(default=None, sa_type=sa.Text)
    charge_amount: Decimal = Field(sa_type=sa.Numeric(12, 2))
    allowed_amount: Decimal = Field(sa_type=sa.Numeric(12, 2))
    paid_amount: Decimal = Field(sa_type=sa.Numeric(12, 2))
    patient_responsibility_amount: Decimal = Field(sa_type=sa.Numeric(12, 2))
    lines: list = Field(sa_type=pg.JSONB)


class CaseNote(DenialsTable, table=True):
    __tablename__ = "denial_case_notes"
    __table_args__ = (sa.Index("ix_denial_case_notes_case", "tenant_id", "case_id", "created_at"),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    case_id: UUID = Field(foreign_key="denial_cases.id", ondelete="CASCADE")
    author: str | None = Field(default=None, sa_type=sa.Text)
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class CaseTask(DenialsTable, table=True):
    """Work asked of someone else on a case: a documentation request to clinical staff."""

    __tablename__ = "denial_case_tasks"
    __table_args__ = (sa.Index("ix_denial_case_tasks_case", "tenant_id", "case_id", "status"),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    case_id: UUID = Field(foreign_key="denial_cases.id", ondelete="CASCADE")
    kind: str = Field(sa_type=sa.Text)
    description: str = Field(sa_type=sa.Text)
    assignee: str | None = Field(default=None, sa_type=sa.Text)
    due_date: date | None = None
    status: str = Field(sa_type=sa.Text)  # open | done | cancelled
    created_by: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    closed_by: str | None = Field(default=None, sa_type=sa.Text)
    closed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class PayerDenialSettings(DenialsTable, table=True):
    """A practice's appeal windows and corrected-claim filing limit for one payer (days from the remittance date)."""

    __tablename__ = "payer_denial_settings"

    tenant_id: str = Field(primary_key=True, sa_type=sa.Text)
    payer_id: str = Field(primary_key=True, sa_type=sa.Text)
    appeal_level1_days: int
    appeal_level2_days: int
    external_review_days: int
    corrected_claim_days: int
    updated_by: str | None = Field(default=None, sa_type=sa.Text)
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class CategoryOverride(DenialsTable, table=True):
    __tablename__ = "denial_category_overrides"

    tenant_id: str = Field(primary_key=True, sa_type=sa.Text)
    payer_id: str = Field(primary_key=True, sa_type=sa.Text)
    carc: str = Field(primary_key=True, sa_type=sa.Text)
    category: str = Field(sa_type=sa.Text)
    owning_team: str | None = Field(default=None, sa_type=sa.Text)
    recommended_action: str | None = Field(default=None, sa_type=sa.Text)
    preventable: bool | None = None
    updated_by: str | None = Field(default=None, sa_type=sa.Text)
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class PayerCategoryOutcomes(DenialsTable, table=True):
    """How this payer's cases of one category ended (won, partially won, lost): the history the
    likelihood of recovery learns from. Refreshed from denial_cases by the priority pass."""

    __tablename__ = "payer_category_outcomes"

    tenant_id: str = Field(primary_key=True, sa_type=sa.Text)
    payer_id: str = Field(primary_key=True, sa_type=sa.Text)
    category: str = Field(primary_key=True, sa_type=sa.Text)
    won: int
    partially_won: int
    lost: int


class AdjudicationBucket(DenialsTable, table=True):
    """Service lines a payer adjudicated per procedure per day: the trends' denominator."""

    __tablename__ = "adjudication_buckets"

    tenant_id: str = Field(primary_key=True, sa_type=sa.Text)
    payer_id: str = Field(primary_key=True, sa_type=sa.Text)
    procedure_code: str = Field(primary_key=True, sa_type=sa.Text)  # '' for a claim without lines
    day: date = Field(primary_key=True)
    lines: int


class DenialBucket(DenialsTable, table=True):
    """Denied lines per payer, procedure and category per day (and their dollars)."""

    __tablename__ = "denial_buckets"

    tenant_id: str = Field(primary_key=True, sa_type=sa.Text)
    payer_id: str = Field(primary_key=True, sa_type=sa.Text)
    procedure_code: str = Field(primary_key=True, sa_type=sa.Text)
    category: str = Field(primary_key=True, sa_type=sa.Text)
    day: date = Field(primary_key=True)
    lines: int
    amount: Decimal = Field(sa_type=sa.Numeric(14, 2))


class TrendEpisode(DenialsTable, table=True):
    """A spike of one payer x procedure x category, from detection until the rate falls back."""

    __tablename__ = "denial_trend_episodes"
    __table_args__ = (
        sa.Index("uq_denial_trend_episodes_open", "tenant_id", "payer_id", "procedure_code", "category",
                 unique=True, postgresql_where=sa.text("ended_on IS NULL")),
    )

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    payer_id: str = Field(sa_type=sa.Text)
    procedure_code: str = Field(sa_type=sa.Text)
    category: str = Field(sa_type=sa.Text)
    detected_on: date
    ended_on: date | None = None
    denials_7d: int
    adjudicated_7d: int
    rate_7d: Decimal = Field(sa_type=sa.Numeric(7, 4))
    baseline_rate: Decimal = Field(sa_type=sa.Numeric(7, 4))
    ratio: Decimal = Field(sa_type=sa.Numeric(9, 2))


denial_cases = DenialCase.__table__
denial_lines = DenialLine.__table__
claim_adjudications = ClaimAdjudication.__table__
case_notes = CaseNote.__table__
case_tasks = CaseTask.__table__
payer_denial_settings = PayerDenialSettings.__table__
category_overrides = CategoryOverride.__table__
payer_category_outcomes = PayerCategoryOutcomes.__table__
adjudication_buckets = AdjudicationBucket.__table__
denial_buckets = DenialBucket.__table__
trend_episodes = TrendEpisode.__table__
target_metadata = [DenialsTable.metadata, messaging_metadata, audit_metadata, appeal_metadata,
                   expected_denial_metadata]
