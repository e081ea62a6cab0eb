"""The eligibility database: the coverages claims registered, every check asked and its answer,
the checks waiting for a (re)try, and batches of checks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from openrcm_shared.audit.tables import audit_metadata
from openrcm_shared.messaging.tables import messaging_metadata


class EligibilityTable(SQLModel, registry=registry()):
    pass


MONEY = sa.Numeric(12, 2)


class EligibilityCheck(EligibilityTable, table=True):
    """One check: asked of a payer by 270 (real time, batch), read from an uploaded 271, or an
    answer recorded by hand. `status` is pending until an answer (or a final error) arrives."""

    __tablename__ = "eligibility_checks"
    __table_args__ = (
        sa.Index("ix_eligibility_checks_patient", "tenant_id", "patient_id", "checked_at", "id"),
        sa.Index("ix_eligibility_checks_coverage", "tenant_id", "coverage_id", "service_date", "requested_at"),
        sa.Index("uq_eligibility_checks_trace", "tenant_id", "trace_number", unique=True),
        sa.Index("ix_eligibility_checks_member", "tenant_id", "payer_id", "member_id"),
        sa.Index("ix_eligibility_checks_batch", "batch_id", "status"),
    )

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str | None = Field(default=None, sa_type=sa.Text)  # None: an uploaded 271 that matched nothing
    payer_id: str = Field(sa_type=sa.Text)
    member_id: str = Field(sa_type=sa.Text)
    service_date: date
    coverage_active: bool | None = None
    plan_name: str | None = Field(default=None, sa_type=sa.Text)
    copay_amount: Decimal | None = Field(default=None, sa_type=MONEY)
    deductible_amount: Decimal | None = Field(default=None, sa_type=MONEY)
    deductible_remaining: Decimal | None = Field(default=None, sa_type=MONEY)
    coinsurance_percent: Decimal | None = Field(default=None, sa_type=sa.Numeric(5, 2))
    out_of_pocket_remaining: Decimal | None = Field(default=None, sa_type=MONEY)
    checked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # when answered
    coverage_id: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(sa_type=sa.Text)  # pending, active, inactive, unknown, error
    origin: str = Field(sa_type=sa.Text)  # real_time, batch, upload, recorded
    trace_number: str | None = Field(default=None, sa_type=sa.Text)  # our TRN02, echoed in the 271
    service_types: list[str] | None = Field(default=None, sa_type=pg.ARRAY(sa.Text))
    provider_npi: str | None = Field(default=None, sa_type=sa.String(10))
    provider_name: str | None = Field(default=None, sa_type=sa.Text)
    request_x12: str | None = Field(default=None, sa_type=sa.Text)
    response_x12: str | None = Field(default=None, sa_type=sa.Text)  # the 271 of a real-time or batch check
    # An uploaded 271: the stored file and where the check's transaction set is in it
    # (service_layer.response_files): {"header", "start", "end", "trailer"}.
    response_file_id: UUID | None = Field(default=None, sa_column_args=[
        sa.ForeignKey("eligibility_response_files.id")])
    response_location: dict | None = Field(default=None, sa_type=pg.JSONB)
    result: dict | None = Field(default=None, sa_type=pg.JSONB)  # the normalized answer
    attempts: int = Field(default=0, sa_type=sa.SmallInteger)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    batch_id: UUID | None = None
    requested_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class EligibilityCoverage(EligibilityTable, table=True):
    """A coverage as claims registered it (CoverageRegistered): what a 270 is built from. Claims
    names a coverage within its patient, so the same coverage id may belong to two patients."""

    __tablename__ = "eligibility_coverages"
    __table_args__ = (
        sa.Index("ix_eligibility_coverages_coverage", "tenant_id", "coverage_id"),
        sa.Index("ix_eligibility_coverages_member", "tenant_id", "payer_id", "member_id"),
    )

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    patient_id: str = Field(sa_type=sa.Text, primary_key=True)
    coverage_id: str = Field(sa_type=sa.Text, primary_key=True)
    payer_id: str = Field(sa_type=sa.Text)
    payer_name: str | None = Field(default=None, sa_type=sa.Text)
    member_id: str = Field(sa_type=sa.Text)
    group_number: str | None = Field(default=None, sa_type=sa.Text)
    relationship_to_subscriber: str = Field(sa_type=sa.String(2))
    order_of_benefits: int = Field(sa_type=sa.SmallInteger)
    effective_from: date
    effective_to: date | None = None
    patient: dict = Field(sa_type=pg.JSONB)
    subscriber: dict | None = Field(default=None, sa_type=pg.JSONB)
    registered_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # Set when a claim of this coverage was denied for eligibility: cached answers before it are stale.
    recheck_requested_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class PendingEligibilityCheck(EligibilityTable, table=True):
    """A check still to be sent (or sent again): the worker's queue. No PHI: the system role reads
    it to find work across practices, then does the work as the practice."""

    __tablename__ = "pending_eligibility_checks"
    __table_args__ = (sa.Index("ix_pending_eligibility_checks_due", "due_at"),)

    check_id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    payer_id: str = Field(sa_type=sa.Text)
    due_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class EligibilityBatch(EligibilityTable, table=True):
    """Checks asked together (tomorrow's appointments); announced once every check has an answer."""

    __tablename__ = "eligibility_batches"

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    check_count: int
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class FeeScheduleRate(EligibilityTable, table=True):
    """A payer's contracted rate per unit, as remittance announced it (FeeScheduleReplaced)."""

    __tablename__ = "fee_schedule_rates"
    __table_args__ = (sa.Index("ix_fee_schedule_rates_procedure", "tenant_id", "payer_id", "procedure_code"),)

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    payer_id: str = Field(sa_type=sa.Text, primary_key=True)
    row_index: int = Field(primary_key=True)
    version: int
    procedure_code: str = Field(sa_type=sa.Text)
    modifier: str | None = Field(default=None, sa_type=sa.Text)
    allowed_amount: Decimal = Field(sa_type=sa.Numeric(14, 4))  # per unit; drug rates have more than 2 places
    effective_from: date
    effective_to: date | None = None


class EligibilityResponseFile(EligibilityTable, table=True):
    """An uploaded 271 file, stored once (its text in eligibility_response_file_chunks) however many
    checks it answers; retention deletes the chunks of old files (`content_pruned_at`)."""

    __tablename__ = "eligibility_response_files"
    __table_args__ = (sa.Index("ix_eligibility_response_files_prunable", "received_at",
                               postgresql_where=sa.text("content_pruned_at IS NULL")),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    sha256: str = Field(sa_type=sa.String(64))
    size_chars: int = Field(sa_type=sa.BigInteger)
    received_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    content_pruned_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class EligibilityResponseFileChunk(EligibilityTable, table=True):
    __tablename__ = "eligibility_response_file_chunks"

    file_id: UUID = Field(primary_key=True, sa_column_args=[sa.ForeignKey("eligibility_response_files.id")])
    sequence: int = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    text: str = Field(sa_type=sa.Text)


class FeeScheduleRatePart(EligibilityTable, table=True):
    """A part of a large fee schedule version (FeeScheduleRatesPublished), kept until the version's
    last part arrives and its rates replace the payer's."""

    __tablename__ = "fee_schedule_rate_parts"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    payer_id: str = Field(sa_type=sa.Text, primary_key=True)
    version: int = Field(primary_key=True)
    part: int = Field(primary_key=True)
    part_count: int
    first_row_index: int
    rates: list = Field(sa_type=pg.JSONB)
    received_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


eligibility_checks = EligibilityCheck.__table__
fee_schedule_rate_parts = FeeScheduleRatePart.__table__
response_files = EligibilityResponseFile.__table__
response_file_chunks = EligibilityResponseFileChunk.__table__
fee_schedule_rates = FeeScheduleRate.__table__
eligibility_coverages = EligibilityCoverage.__table__
pending_checks = PendingEligibilityCheck.__table__
eligibility_batches = EligibilityBatch.__table__
target_metadata = [EligibilityTable.metadata, messaging_metadata, audit_metadata]
