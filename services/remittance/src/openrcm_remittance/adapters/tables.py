"""The remittance database: what each payer paid, posted line by line, and the claims it expects."""

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


class RemittanceTable(SQLModel, registry=registry()):
    pass


MONEY = sa.Numeric(12, 2)


class ExpectedClaim(RemittanceTable, table=True):
    """A projection of ClaimSubmitted: what a remittance is matched against (CLP01 -> claim)."""

    __tablename__ = "expected_claims"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "patient_control_number", name="uq_expected_claims_pcn"),
        # A clearinghouse webhook names no practice: the claims in an ERA say whose it is.
        sa.Index("ix_expected_claims_pcn", "patient_control_number"),
    )

    claim_id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_control_number: str = Field(sa_type=sa.String(20))
    patient_id: str = Field(sa_type=sa.Text)
    payer_id: str = Field(sa_type=sa.Text)
    total_charge: Decimal = Field(sa_type=MONEY)
    lines: list = Field(sa_type=pg.JSONB)
    submitted_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # When this service learned of the claim: the end of the intake-to-downstream path the
    # benchmark measures.
    recorded_at: datetime = Field(sa_type=sa.DateTime(timezone=True),
                                  sa_column_kwargs={"server_default": sa.func.clock_timestamp()})


class RemittanceFile(RemittanceTable, table=True):
    """An 835 file as it arrived (upload, multipart part or clearinghouse webhook), stored with its
    SHA-256 before anything else happens; its bytes are in `remittance_file_chunks`."""

    __tablename__ = "remittance_files"
    __table_args__ = (
        # The same bytes again are a duplicate: posted once, answered as such. `scope` is the
        # practice for uploads, the clearinghouse for webhooks.
        sa.Index("uq_remittance_files_sha256", "scope", "sha256", unique=True,
                 postgresql_where=sa.text("duplicate_of IS NULL AND sha256 IS NOT NULL")),
        sa.Index("ix_remittance_files_pending", "received_at", postgresql_where=sa.text("status IN ('received', 'processing')")),
        # Retention deletes the bytes of finished files by age (service_layer.retention).
        sa.Index("ix_remittance_files_prunable", "received_at",
                 postgresql_where=sa.text("content_pruned_at IS NULL AND status IN ('processed', 'rejected')")),
    )

    id: UUID = Field(primary_key=True)
    scope: str = Field(sa_type=sa.Text)
    tenant_id: str | None = Field(default=None, sa_type=sa.Text)
    source: str = Field(sa_type=sa.Text)  # upload | webhook
    filename: str | None = Field(default=None, sa_type=sa.Text)
    content_type: str | None = Field(default=None, sa_type=sa.Text)
    webhook_id: str | None = Field(default=None, sa_type=sa.Text, unique=True)
    sha256: str | None = Field(default=None, sa_type=sa.String(64))
    size_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    received_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    status: str = Field(sa_type=sa.Text)  # receiving | received | processing | processed | rejected | failed | duplicate
    duplicate_of: UUID | None = None
    claimed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    processed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    error: dict | None = Field(default=None, sa_type=pg.JSONB)
    result: list | None = Field(default=None, sa_type=pg.JSONB)
    # When retention deleted the bytes (the chunks); the row stays as the file's receipt.
    content_pruned_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class RemittanceFileChunk(RemittanceTable, table=True):
    """The raw bytes of a file in order, a megabyte at a time, so memory stays flat in file size."""

    __tablename__ = "remittance_file_chunks"

    file_id: UUID = Field(primary_key=True, sa_column_args=[sa.ForeignKey("remittance_files.id")])
    sequence: int = Field(primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary)
    # The file's practice (row-level security); none for a clearinghouse webhook's file.
    tenant_id: str | None = Field(default=None, sa_type=sa.Text)


class Remittance(RemittanceTable, table=True):
    """One payment and its explanation: an 835 transaction set (ST..SE) or a manual posting."""

    __tablename__ = "remittances"
    __table_args__ = (
        # One payment (payer + TRN02 trace number + amount) is posted once, whatever file it is in.
        sa.UniqueConstraint("tenant_id", "payer_id", "trace_number", "payment_amount", name="uq_remittances_payment"),
        sa.Index("ix_remittances_status", "tenant_id", "status", "received_at"),
        # A held ERA may be posted again from its file: retention keeps those files' bytes.
        sa.Index("ix_remittances_held_file", "file_id", postgresql_where=sa.text("status = 'held'")),
    )

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    payer_id: str = Field(sa_type=sa.Text)
    trace_number: str = Field(sa_type=sa.Text)
    payment_amount: Decimal = Field(sa_type=MONEY)
    payment_date: date
    source: str = Field(sa_type=sa.Text)  # json | x12
    received_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    document: dict | None = Field(default=None, sa_type=pg.JSONB)  # the manual posting's JSON
    status: str = Field(default="posted", sa_type=sa.Text,
                        sa_column_kwargs={"server_default": "posted"})  # posted | held
    file_id: UUID | None = Field(default=None, sa_column_args=[sa.ForeignKey("remittance_files.id")])
    transaction_index: int | None = None  # which ST..SE of the file, from 0
    transaction_set_control_number: str | None = Field(default=None, sa_type=sa.Text)
    payer_name: str | None = Field(default=None, sa_type=sa.Text)
    payee_name: str | None = Field(default=None, sa_type=sa.Text)
    payee_identifier: str | None = Field(default=None, sa_type=sa.Text)
    payment_method: str | None = Field(default=None, sa_type=sa.Text)  # BPR04: ACH, CHK, NON, ...
    provider_adjustment_amount: Decimal = Field(default=Decimal(0), sa_type=MONEY,
                                                sa_column_kwargs={"server_default": "0"})
    claim_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    held_reasons: list | None = Field(default=None, sa_type=pg.JSONB)
    posted_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class ClaimPayment(RemittanceTable, table=True):
    """One payer decision on one claim (a CLP loop): posted, or reversed later by CLP02 22."""

    __tablename__ = "claim_payments"
    __table_args__ = (sa.Index("ix_claim_payments_claim", "claim_id"),
                      sa.Index("ix_claim_payments_remittance", "remittance_id"))

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    remittance_id: UUID = Field(sa_column_args=[sa.ForeignKey("remittances.id")])
    claim_id: UUID
    outcome: str = Field(sa_type=sa.Text)
    charge_amount: Decimal = Field(sa_type=MONEY)
    allowed_amount: Decimal = Field(sa_type=MONEY)
    paid_amount: Decimal = Field(sa_type=MONEY)
    patient_responsibility_amount: Decimal = Field(sa_type=MONEY)
    denied_amount: Decimal = Field(sa_type=MONEY)
    payer_claim_control_number: str | None = Field(default=None, sa_type=sa.Text)
    claim_status_code: str | None = Field(default=None, sa_type=sa.String(2))  # CLP02
    sequence: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # position in the ERA
    reversal_of: UUID | None = None  # the claim payment a CLP02 22 took back
    reversed_by: UUID | None = None
    crossover_payer_name: str | None = Field(default=None, sa_type=sa.Text)
    crossover_payer_id: str | None = Field(default=None, sa_type=sa.Text)


class JournalEntry(RemittanceTable, table=True):
    """The double-entry ledger: every posting is a journal whose entries sum to zero (debits
    positive, credits negative), per claim and line. Accounts: see domain/ledger.py."""

    __tablename__ = "journal_entries"
    # No index on journal_id: no query looks a journal up by it, and every posted entry paid for one.
    __table_args__ = (sa.Index("ix_journal_entries_claim", "claim_id"),
                      sa.Index("ix_journal_entries_remittance", "remittance_id"))

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    tenant_id: str = Field(sa_type=sa.Text)
    journal_id: UUID  # the claim payment, or the remittance for provider-level (PLB) entries
    # Must name an existing remittance: enforced per statement by triggers (migration 0004), not by a
    # foreign key, whose per-row lookup was a quarter of the database's work in a large posting.
    remittance_id: UUID
    claim_id: UUID | None = None
    line_number: int | None = None
    account: str = Field(sa_type=sa.Text)
    group_code: str | None = Field(default=None, sa_type=sa.String(2))
    reason_code: str | None = Field(default=None, sa_type=sa.Text)  # CARC, or PLB reason
    amount: Decimal = Field(sa_type=MONEY)


class UnmatchedItem(RemittanceTable, table=True):
    """A claim (or a line of it) in an ERA that could not be tied to what we billed. Its ERA is held
    until someone matches it by hand (audited: who, when, why); nothing fuzzy posts by itself."""

    __tablename__ = "unmatched_items"
    __table_args__ = (sa.Index("ix_unmatched_items_open", "tenant_id", "status", "created_at"),
                      sa.Index("ix_unmatched_items_remittance", "remittance_id"),
                      # The remittance worker looks for claims that became known (across practices).
                      sa.Index("ix_unmatched_items_open_claims", "patient_control_number",
                               postgresql_where=sa.text("status = 'open' AND kind = 'claim'")))

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    remittance_id: UUID = Field(sa_column_args=[sa.ForeignKey("remittances.id")])
    claim_sequence: int  # which CLP of the ERA, from 0
    line_sequence: int | None = None  # which SVC of that claim, from 0 (None: the whole claim)
    kind: str = Field(sa_type=sa.Text)  # claim | line
    patient_control_number: str = Field(sa_type=sa.Text)
    payer_claim_control_number: str | None = Field(default=None, sa_type=sa.Text)
    detail: dict = Field(sa_type=pg.JSONB)  # what the ERA says about the claim or line
    reason: str = Field(sa_type=sa.Text)
    candidates: list = Field(sa_type=pg.JSONB)  # scored, best first
    status: str = Field(sa_type=sa.Text)  # open | matched
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    matched_claim_id: UUID | None = None
    matched_line_number: int | None = None
    matched_by: str | None = Field(default=None, sa_type=sa.Text)
    matched_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    match_reason: str | None = Field(default=None, sa_type=sa.Text)


expected_claims = ExpectedClaim.__table__
remittances = Remittance.__table__
claim_payments = ClaimPayment.__table__
remittance_files = RemittanceFile.__table__
remittance_file_chunks = RemittanceFileChunk.__table__
journal_entries = JournalEntry.__table__
unmatched_items = UnmatchedItem.__table__
target_metadata = [RemittanceTable.metadata, messaging_metadata, audit_metadata]


# -- contracted fee schedules and payment variances; deposits and EFT reassociation ---------------------
# (domain rules in domain/fee_schedules.py and domain/reassociation.py)


class FeeScheduleVersion(RemittanceTable, table=True):
    """One upload of a payer's contracted fee schedule. A new upload is a new version; old ones are
    kept, so what a variance was measured against can always be shown."""

    __tablename__ = "fee_schedule_versions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "payer_id", "version", name="uq_fee_schedule_versions"),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    payer_id: str = Field(sa_type=sa.Text)
    version: int
    row_count: int
    # An underpayment of a line at or below this is recorded but raises no event (contracts allow
    # rounding and small-balance differences).
    variance_tolerance: Decimal = Field(sa_type=MONEY)
    content_sha256: str = Field(sa_type=sa.String(64))
    uploaded_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class FeeSchedule(RemittanceTable, table=True):
    """Which version of a payer's schedule is in force. Its row is locked while a new version is
    written, so concurrent uploads get consecutive version numbers."""

    __tablename__ = "fee_schedules"

    tenant_id: str = Field(primary_key=True, sa_type=sa.Text)
    payer_id: str = Field(primary_key=True, sa_type=sa.Text)
    current_version: int
    current_version_id: UUID | None = Field(default=None,
                                            sa_column_args=[sa.ForeignKey("fee_schedule_versions.id")])
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class FeeScheduleEntry(RemittanceTable, table=True):
    """One contracted rate of a version: procedure (+ modifier), allowed amount per unit, dates."""

    __tablename__ = "fee_schedule_entries"
    __table_args__ = (sa.Index("ix_fee_schedule_entries_procedure", "version_id", "procedure_code"),)

    version_id: UUID = Field(primary_key=True, sa_column_args=[sa.ForeignKey("fee_schedule_versions.id")])
    row_index: int = Field(primary_key=True)  # position among the CSV's data rows, from 0
    tenant_id: str = Field(sa_type=sa.Text)
    procedure_code: str = Field(sa_type=sa.String(5))
    modifier: str | None = Field(default=None, sa_type=sa.String(2))
    allowed_amount: Decimal = Field(sa_type=sa.Numeric(14, 4))  # per unit; drug rates have > 2 places
    effective_from: date
    effective_to: date | None = None
    line_number: int  # the CSV line (header = 1)


class PaymentVariance(RemittanceTable, table=True):
    """A posted line whose payer-allowed amount differs from the contracted one (both signs kept)."""

    __tablename__ = "payment_variances"
    __table_args__ = (sa.Index("ix_payment_variances_recent", "tenant_id", "detected_at", "id"),
                      sa.Index("ix_payment_variances_largest", "tenant_id", "variance_amount", "id"),
                      sa.Index("ix_payment_variances_claim", "tenant_id", "claim_id"),
                      sa.Index("ix_payment_variances_remittance", "remittance_id"))

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    remittance_id: UUID = Field(sa_column_args=[sa.ForeignKey("remittances.id")])
    claim_id: UUID
    payer_id: str = Field(sa_type=sa.Text)
    line_number: int
    procedure_code: str = Field(sa_type=sa.Text)
    modifiers: list = Field(sa_type=pg.JSONB)
    service_date: date
    units: Decimal = Field(sa_type=sa.Numeric(9, 3))
    contracted_amount: Decimal = Field(sa_type=MONEY)
    allowed_amount: Decimal = Field(sa_type=MONEY)
    paid_amount: Decimal = Field(sa_type=MONEY)
    variance_amount: Decimal = Field(sa_type=MONEY)  # contracted - allowed: positive is an underpayment
    kind: str = Field(sa_type=sa.Text)  # underpayment | overpayment
    beyond_tolerance: bool  # an underpayment above the schedule's tolerance: PaymentVarianceDetected sent
    fee_schedule_version_id: UUID = Field(sa_column_args=[sa.ForeignKey("fee_schedule_versions.id")])
    detected_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class Deposit(RemittanceTable, table=True):
    """A payer's EFT as it reached the bank (a CCD+ credit), and the ERA it was reassociated with."""

    __tablename__ = "deposits"
    __table_args__ = (
        # One EFT is recorded once: its trace number (the ERA's TRN02) and amount are its natural key.
        sa.UniqueConstraint("tenant_id", "trace_number", "amount", name="uq_deposits_eft"),
        # One deposit per ERA (CORE 370: one CCD+ entry per 835).
        sa.Index("uq_deposits_remittance", "remittance_id", unique=True,
                 postgresql_where=sa.text("remittance_id IS NOT NULL")),
        sa.Index("ix_deposits_status", "tenant_id", "status", "received_at", "id"),
    )

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    trace_number: str = Field(sa_type=sa.Text)
    amount: Decimal = Field(sa_type=MONEY)
    deposit_date: date
    payer_id: str | None = Field(default=None, sa_type=sa.Text)
    payer_tin: str | None = Field(default=None, sa_type=sa.String(9))
    bank_reference: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(sa_type=sa.Text)  # matched | unmatched
    remittance_id: UUID | None = Field(default=None, sa_column_args=[sa.ForeignKey("remittances.id")])
    received_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    matched_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class RemittanceOriginator(RemittanceTable, table=True):
    """An ERA's TRN03 (originating company id: "1" + the payer's TIN), kept for reassociation so a
    deposit naming the payer's TIN can be checked whichever of the two arrives first."""

    __tablename__ = "remittance_originators"

    remittance_id: UUID = Field(primary_key=True, sa_column_args=[sa.ForeignKey("remittances.id")])
    tenant_id: str = Field(sa_type=sa.Text)
    originating_company_id: str = Field(sa_type=sa.Text)


fee_schedule_versions = FeeScheduleVersion.__table__
fee_schedules = FeeSchedule.__table__
fee_schedule_entries = FeeScheduleEntry.__table__
payment_variances = PaymentVariance.__table__
deposits = Deposit.__table__
remittance_originators = RemittanceOriginator.__table__
# A deposit looks for its ERA by trace number alone (the bank may not say which payer sent it).
sa.Index("ix_remittances_trace", remittances.c.tenant_id, remittances.c.trace_number)
