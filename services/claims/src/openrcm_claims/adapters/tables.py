"""The claims database. Every row carries its practice's tenant_id (row-level security: see
migration 0012), but the clearinghouse's raw deliveries, which are the system role's, and the CMS
code-set files (reference data every practice shares, migration 0013).
"""

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


class ClaimsTable(SQLModel, registry=registry()):
    pass


MONEY = sa.Numeric(12, 2)


class Claim(ClaimsTable, table=True):
    __tablename__ = "claims"
    __table_args__ = (
        # One claim per encounter, responsible payer and part (an encounter whose lines exceed the
        # 837P's 50 is split into parts; each later payer gets its own claim of each part).
        sa.UniqueConstraint("tenant_id", "encounter_id", "payer_responsibility", "split_part",
                            name="uq_claims_tenant_encounter_payer_part"),
        # Unique across practices: a 277CA (and an 835) names a claim by CLM01 alone, so the
        # acknowledgements find claims by it without a tenant. The index serves that lookup too.
        sa.UniqueConstraint("patient_control_number", name="uq_claims_pcn"),
        sa.Index("ix_claims_tenant_status_created", "tenant_id", "status", "created_at", "id"),
        sa.Index("ix_claims_tenant_patient_payer", "tenant_id", "patient_id", "payer_id"),
        # The 837 batcher's query every second; ready claims leave within about a second.
        sa.Index("ix_claims_ready", "created_at", postgresql_where=sa.text("status = 'ready'")),
    )

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    encounter_id: str = Field(sa_type=sa.Text)
    patient_control_number: str = Field(sa_type=sa.String(20))
    patient_id: str = Field(sa_type=sa.Text)
    payer_id: str = Field(sa_type=sa.Text)
    member_id: str = Field(sa_type=sa.Text)
    billing_npi: str = Field(sa_type=sa.String(10))
    rendering_npi: str | None = Field(default=None, sa_type=sa.String(10))
    place_of_service: str = Field(sa_type=sa.String(2))
    diagnosis_codes: list[str] = Field(sa_type=pg.ARRAY(sa.Text))
    status: str = Field(sa_type=sa.Text)
    # Each correction after a rejection is a new version; scrub results and submissions name it.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    claim_type: str = Field(default="professional", sa_type=sa.Text,
                            sa_column_kwargs={"server_default": "professional"})
    # SBR01 of the claim's payer: P primary, S secondary, T tertiary (order of benefits).
    payer_responsibility: str = Field(default="P", sa_type=sa.String(1), sa_column_kwargs={"server_default": "P"})
    # 1 for the first (or only) claim of the encounter's lines, 2.. for the parts split off it.
    split_part: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # The previous payer's claim of the same lines, on a secondary or tertiary claim.
    prior_claim_id: UUID | None = Field(default=None, sa_column_args=[sa.ForeignKey("claims.id")])
    # What the previous payers decided (loops 2320/2430 of this claim): paid, adjustments, lines.
    prior_payer_adjudications: list = Field(default_factory=list, sa_type=pg.JSONB,
                                            sa_column_kwargs={"server_default": sa.text("'[]'::jsonb")})
    # Set once the payer accepts the claim (277CA REF*1K); replacements and voids need it.
    payer_claim_control_number: str | None = Field(default=None, sa_type=sa.Text)
    # CLM05-3 of the next (or last) submission: 1 original, 7 replacement, 8 void.
    frequency_code: str = Field(default="1", sa_type=sa.String(1), sa_column_kwargs={"server_default": "1"})
    filing_deadline: date | None = None
    # Set when a submitted claim waited longer than the payer's acknowledgement window.
    follow_up_flagged_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    coverage_status: str = Field(sa_type=sa.Text)
    total_charge: Decimal = Field(sa_type=MONEY)
    paid_amount: Decimal = Field(sa_type=MONEY)
    service_date_from: date
    service_date_to: date
    # The encounter as the EHR sent it (patient demographics included), for the 837 and audits.
    encounter_document: dict = Field(sa_type=pg.JSONB)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class ClaimLine(ClaimsTable, table=True):
    __tablename__ = "claim_lines"

    claim_id: UUID = Field(sa_column_args=[sa.ForeignKey("claims.id", ondelete="CASCADE")], primary_key=True)
    line_number: int = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    # CPT/HCPCS; on an institutional line only when the service has one (837I SV202).
    procedure_code: str | None = Field(default=None, sa_type=sa.String(5))
    # NUBC revenue code of an institutional line (837I SV201).
    revenue_code: str | None = Field(default=None, sa_type=sa.String(4))
    modifiers: list[str] = Field(sa_type=pg.ARRAY(sa.Text))
    units: Decimal = Field(sa_type=sa.Numeric(9, 3))
    # 837I SV204: UN units, DA days (accommodation lines).
    unit_basis: str | None = Field(default=None, sa_type=sa.String(2))
    charge_amount: Decimal = Field(sa_type=MONEY)
    service_date: date
    service_date_to: date | None = None
    place_of_service: str | None = Field(default=None, sa_type=sa.String(2))
    diagnosis_pointers: list[int] = Field(sa_type=pg.ARRAY(sa.Integer))


class ClaimHistory(ClaimsTable, table=True):
    """The claim's timeline: every state change, each with the event that announced or caused it."""

    __tablename__ = "claim_history"
    __table_args__ = (sa.Index("ix_claim_history_claim", "claim_id", "id"),)

    id: int | None = Field(default=None, sa_column_kwargs={"autoincrement": True}, primary_key=True,
                           sa_type=sa.BigInteger)
    claim_id: UUID = Field(sa_column_args=[sa.ForeignKey("claims.id", ondelete="CASCADE")])
    tenant_id: str = Field(sa_type=sa.Text)
    occurred_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    kind: str = Field(sa_type=sa.Text)
    from_status: str | None = Field(default=None, sa_type=sa.Text)
    to_status: str | None = Field(default=None, sa_type=sa.Text)
    event_id: UUID | None = None
    detail: dict = Field(sa_type=pg.JSONB)


class ClaimStatusInquiry(ClaimsTable, table=True):
    """A claim status inquiry (X12 276) to send, sent, or answered (277): asked for by someone
    working the A/R (ClaimFollowUpRequested) or by the nightly batch of claims past their follow-up age."""

    __tablename__ = "claim_status_inquiries"
    __table_args__ = (sa.Index("ix_claim_status_inquiries_pending", "requested_at",
                               postgresql_where=sa.text("status = 'pending'")),
                      sa.Index("ix_claim_status_inquiries_claim", "claim_id", "requested_at"))

    id: UUID = Field(primary_key=True)  # also the 276's TRN02 trace number (hex, 32 characters)
    tenant_id: str = Field(sa_type=sa.Text)
    claim_id: UUID = Field(sa_column_args=[sa.ForeignKey("claims.id", ondelete="CASCADE")])
    reason: str = Field(sa_type=sa.Text)  # follow_up_request | nightly
    status: str = Field(sa_type=sa.Text)  # pending | answered | failed
    requested_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    answered_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    category_code: str | None = Field(default=None, sa_type=sa.Text)
    status_code: str | None = Field(default=None, sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)


class ScrubResult(ClaimsTable, table=True):
    """What the scrubber said about one version of a claim, under which rule set."""

    __tablename__ = "scrub_results"

    claim_id: UUID = Field(sa_column_args=[sa.ForeignKey("claims.id", ondelete="CASCADE")], primary_key=True)
    version: int = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    rule_set_version: str = Field(sa_type=sa.Text)
    blocked: bool
    hits: list = Field(sa_type=pg.JSONB)
    scrubbed_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class Submission(ClaimsTable, table=True):
    """One 837 file sent to the clearinghouse, kept byte for byte."""

    __tablename__ = "submissions"
    __table_args__ = (sa.Index("ix_submissions_pending", "created_at", postgresql_where=sa.text("status = 'pending'")),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    payer_id: str = Field(sa_type=sa.Text)
    claim_type: str = Field(sa_type=sa.Text)
    interchange_control_number: int = Field(sa_type=sa.BigInteger, unique=True)
    group_control_number: int = Field(sa_type=sa.BigInteger)
    raw_x12: bytes = Field(sa_type=sa.LargeBinary)
    status: str = Field(sa_type=sa.Text)  # pending | sent | acknowledged | rejected | refused
    clearinghouse_batch_id: str | None = Field(default=None, sa_type=sa.Text)
    refusal_reason: str | None = Field(default=None, sa_type=sa.Text)  # refused: what the clearinghouse said
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    sent_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class ClaimSubmission(ClaimsTable, table=True):
    """Which version of which claim went out in which file, as which transaction set."""

    __tablename__ = "claim_submissions"
    __table_args__ = (sa.Index("ix_claim_submissions_claim", "claim_id", "version"),
                      # A 999's AK2 names the transaction set; its claims are found by it.
                      sa.Index("ix_claim_submissions_transaction_set", "transaction_set_control_number"))

    submission_id: UUID = Field(sa_column_args=[sa.ForeignKey("submissions.id")], primary_key=True)
    claim_id: UUID = Field(sa_column_args=[sa.ForeignKey("claims.id", ondelete="CASCADE")], primary_key=True)
    version: int
    transaction_set_control_number: int
    frequency_code: str = Field(sa_type=sa.String(1))
    tenant_id: str = Field(sa_type=sa.Text)  # the claim's (row-level security)


class ClearinghouseDelivery(ClaimsTable, table=True):
    """Every webhook delivery from the clearinghouse, stored raw before it is acknowledged. It names
    no practice (a 277CA may cover several practices' claims): only the system role reads it."""

    __tablename__ = "clearinghouse_deliveries"
    # Retention prunes deliveries already applied (processed, or failed as malformed) by age;
    # received ones are never pruned (service_layer.retention).
    __table_args__ = (sa.Index("ix_clearinghouse_deliveries_settled", "received_at",
                               postgresql_where=sa.text("status IN ('processed', 'failed')")),)

    webhook_id: str = Field(sa_type=sa.Text, primary_key=True)
    received_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    content_type: str | None = Field(default=None, sa_type=sa.Text)
    body: bytes = Field(sa_type=sa.LargeBinary)
    status: str = Field(sa_type=sa.Text)  # received | processed | failed
    error: str | None = Field(default=None, sa_type=sa.Text)
    processed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class ClaimAdjudication(ClaimsTable, table=True):
    """One decision of the claim's own payer, as remittance posted it (ClaimPaymentPosted): the
    amounts, CAS adjustments, patient shares and lines. A reversal (CLP02 22) marks the decision it
    takes back; the standing ones are the payer's current answer (the FHIR ClaimResponse)."""

    __tablename__ = "claim_adjudications"
    __table_args__ = (sa.Index("ix_claim_adjudications_claim", "claim_id", "id"),)

    id: int | None = Field(default=None, sa_column_kwargs={"autoincrement": True}, primary_key=True,
                           sa_type=sa.BigInteger)
    claim_id: UUID = Field(sa_column_args=[sa.ForeignKey("claims.id", ondelete="CASCADE")])
    tenant_id: str = Field(sa_type=sa.Text)
    remittance_id: UUID
    payer_id: str = Field(sa_type=sa.Text)  # who decided: the claim's payer, or one it was forwarded to
    adjudicated_on: date
    outcome: str = Field(sa_type=sa.Text)
    claim_status_code: str | None = Field(default=None, sa_type=sa.Text)
    payer_claim_control_number: str | None = Field(default=None, sa_type=sa.Text)
    charge_amount: Decimal = Field(sa_type=MONEY)
    allowed_amount: Decimal = Field(sa_type=MONEY)
    paid_amount: Decimal = Field(sa_type=MONEY)
    patient_responsibility_amount: Decimal = Field(sa_type=MONEY)
    adjustments: list = Field(sa_type=pg.JSONB)  # group_code, carc, amount, line_number (None: the claim's)
    patient_shares: list = Field(sa_type=pg.JSONB)  # kind, carc, amount, line_number
    lines: list = Field(sa_type=pg.JSONB)  # line_number, charge, allowed, paid, patient responsibility
    reversed_by_remittance_id: UUID | None = None


class FilingDeadlineAlert(ClaimsTable, table=True):
    """Which timely-filing warnings (30 and 7 days before the deadline) a claim has had: once each."""

    __tablename__ = "filing_deadline_alerts"

    claim_id: UUID = Field(sa_column_args=[sa.ForeignKey("claims.id", ondelete="CASCADE")], primary_key=True)
    days_before: int = Field(primary_key=True)
    alerted_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    tenant_id: str = Field(sa_type=sa.Text)  # the claim's (row-level security)


class Payer(ClaimsTable, table=True):
    """The payer registry: how each payer takes claims (per practice: contracts differ)."""

    __tablename__ = "payers"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    payer_id: str = Field(sa_type=sa.Text, primary_key=True)
    name: str = Field(sa_type=sa.Text)
    claim_types: list[str] = Field(sa_type=pg.ARRAY(sa.Text))
    timely_filing_days: int
    enrollment_required: bool
    replacement_claims_accepted: bool
    acknowledgement_follow_up_days: int
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class PayerIdentifier(ClaimsTable, table=True):
    """An identifier other parties know a payer by (a NAIC code, the clearinghouse's payer id, an
    EHR's own id), as a FHIR Identifier: system URI and value. Unique per practice, so a FHIR
    Claim's insurer or Coverage.payor identifies one payer."""

    __tablename__ = "payer_identifiers"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "payer_id"], ["payers.tenant_id", "payers.payer_id"], ondelete="CASCADE"),
        sa.Index("ix_payer_identifiers_payer", "tenant_id", "payer_id"),
    )

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    system: str = Field(sa_type=sa.Text, primary_key=True)
    value: str = Field(sa_type=sa.Text, primary_key=True)
    payer_id: str = Field(sa_type=sa.Text)


class ProviderEnrollment(ClaimsTable, table=True):
    """A span during which a provider (NPI) is enrolled with a payer."""

    __tablename__ = "provider_enrollments"
    __table_args__ = (sa.Index("ix_provider_enrollments_lookup", "tenant_id", "npi", "payer_id"),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    npi: str = Field(sa_type=sa.String(10))
    payer_id: str = Field(sa_type=sa.Text)
    effective_from: date
    effective_to: date | None = None
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class Patient(ClaimsTable, table=True):
    """A patient of the practice as the EHR registered it: the demographics of loops 2010BA/2010CA."""

    __tablename__ = "patients"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    patient_id: str = Field(sa_type=sa.Text, primary_key=True)
    first_name: str = Field(sa_type=sa.Text)
    last_name: str = Field(sa_type=sa.Text)
    birth_date: date
    gender: str = Field(sa_type=sa.String(1))
    address: dict | None = Field(default=None, sa_type=pg.JSONB)
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class Coverage(ClaimsTable, table=True):
    """One insurance coverage of a patient: who pays in which order (1 primary, 2 secondary,
    3 tertiary), from when to when."""

    __tablename__ = "coverages"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "patient_id"], ["patients.tenant_id", "patients.patient_id"],
                                ondelete="CASCADE"),
    )

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    patient_id: str = Field(sa_type=sa.Text, primary_key=True)
    coverage_id: str = Field(sa_type=sa.Text, primary_key=True)
    payer_id: str = Field(sa_type=sa.Text)
    member_id: str = Field(sa_type=sa.Text)
    group_number: str | None = Field(default=None, sa_type=sa.Text)
    claim_filing_indicator: str = Field(sa_type=sa.String(2))
    relationship_to_subscriber: str = Field(sa_type=sa.String(2))
    subscriber: dict | None = Field(default=None, sa_type=pg.JSONB)
    order_of_benefits: int = Field(sa_type=sa.SmallInteger)
    effective_from: date
    effective_to: date | None = None
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class Provider(ClaimsTable, table=True):
    """A provider of the practice by NPI, with the roles it may take on a claim."""

    __tablename__ = "providers"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    npi: str = Field(sa_type=sa.String(10), primary_key=True)
    name: str | None = Field(default=None, sa_type=sa.Text)
    first_name: str | None = Field(default=None, sa_type=sa.Text)
    last_name: str | None = Field(default=None, sa_type=sa.Text)
    tax_id: str | None = Field(default=None, sa_type=sa.String(9))
    taxonomy_code: str | None = Field(default=None, sa_type=sa.String(10))
    address: dict | None = Field(default=None, sa_type=pg.JSONB)
    roles: list[str] = Field(sa_type=pg.ARRAY(sa.Text))
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class ServiceFacility(ClaimsTable, table=True):
    """Where services are rendered when not at the billing provider's address (837P 2310C, 837I 2310E)."""

    __tablename__ = "service_facilities"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    facility_id: str = Field(sa_type=sa.Text, primary_key=True)
    name: str = Field(sa_type=sa.Text)
    npi: str | None = Field(default=None, sa_type=sa.String(10))
    address: dict = Field(sa_type=pg.JSONB)
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class CodeSetFile(ClaimsTable, table=True):
    """A CMS code-set file imported through the API (POST /v1/code-sets/files), kept whole so every
    claims process loads the same bytes. CMS reference data shared by every practice: no tenant_id
    (HCPCS, NCCI and ICD-10-CM are national code sets; which practice's administrator imported a
    file does not change whose claims it applies to). Its bytes are in `code_set_file_chunks`."""

    __tablename__ = "code_set_files"
    __table_args__ = (
        # The same bytes again are the same file: imported once (a withdrawn file may come back).
        sa.Index("uq_code_set_files_sha256", "sha256", unique=True, postgresql_where=sa.text("withdrawn_at IS NULL")),
    )

    id: int | None = Field(default=None, sa_column_kwargs={"autoincrement": True}, primary_key=True,
                           sa_type=sa.BigInteger)
    kind: str = Field(sa_type=sa.Text)  # domain/scrubber/codesets/cms_files.py KINDS
    effective_date: date
    file_name: str = Field(sa_type=sa.Text)
    sha256: str = Field(sa_type=sa.Text)
    size_bytes: int = Field(sa_type=sa.BigInteger)
    counts: dict = Field(sa_type=pg.JSONB)  # what the loader found, e.g. {"edits": 612345}
    imported_by: str = Field(sa_type=sa.Text)  # the access token's sub
    imported_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    withdrawn_by: str | None = Field(default=None, sa_type=sa.Text)
    withdrawn_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class CodeSetFileChunk(ClaimsTable, table=True):
    """The bytes of an imported code-set file in order, a megabyte at a time (files are tens of MB)."""

    __tablename__ = "code_set_file_chunks"

    file_id: int = Field(primary_key=True, sa_type=sa.BigInteger,
                         sa_column_args=[sa.ForeignKey("code_set_files.id", ondelete="CASCADE")])
    sequence: int = Field(primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary)


class CoverageEligibility(ClaimsTable, table=True):
    """The payer's latest eligibility answer for a patient, payer and date of service, from the
    eligibility service's EligibilityChecked (the scrubber's ELIG.* rules read it)."""

    __tablename__ = "coverage_eligibility"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    patient_id: str = Field(sa_type=sa.Text, primary_key=True)
    payer_id: str = Field(sa_type=sa.Text, primary_key=True)
    service_date: date = Field(primary_key=True)
    check_id: UUID
    status: str = Field(sa_type=sa.Text)  # active | inactive
    authorization_required_service_types: list[str] = Field(sa_type=pg.ARRAY(sa.Text))
    primary_payer_id: str | None = Field(default=None, sa_type=sa.Text)
    checked_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


claims = Claim.__table__
scrub_results = ScrubResult.__table__
filing_deadline_alerts = FilingDeadlineAlert.__table__
submissions = Submission.__table__
claim_submissions = ClaimSubmission.__table__
clearinghouse_deliveries = ClearinghouseDelivery.__table__
payers = Payer.__table__
provider_enrollments = ProviderEnrollment.__table__
payer_identifiers = PayerIdentifier.__table__
claim_adjudications = ClaimAdjudication.__table__
claim_lines = ClaimLine.__table__
claim_history = ClaimHistory.__table__
claim_status_inquiries = ClaimStatusInquiry.__table__
patients = Patient.__table__
coverages = Coverage.__table__
providers = Provider.__table__
service_facilities = ServiceFacility.__table__
code_set_files = CodeSetFile.__table__
code_set_file_chunks = CodeSetFileChunk.__table__
coverage_eligibility = CoverageEligibility.__table__

# What Alembic compares against: the service's own tables plus outbox, inbox and idempotency keys.
target_metadata = [ClaimsTable.metadata, messaging_metadata, audit_metadata]
