"""The collections database: patient accounts and their ledgers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from openrcm_shared.audit.tables import audit_metadata
from openrcm_shared.messaging.tables import messaging_metadata


class CollectionsTable(SQLModel, registry=registry()):
    pass


MONEY = sa.Numeric(12, 2)


class PatientAccount(CollectionsTable, table=True):
    __tablename__ = "patient_accounts"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    patient_id: str = Field(sa_type=sa.Text, primary_key=True)
    balance: Decimal = Field(sa_type=MONEY)
    opened_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class LedgerEntry(CollectionsTable, table=True):
    """One amount on a patient's account; the balance is the sum of these (kept as balance_after)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (sa.Index("ix_ledger_entries_account", "tenant_id", "patient_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    claim_id: UUID | None = None
    remittance_id: UUID | None = None
    entry_kind: str = Field(sa_type=sa.Text)
    responsibility_kind: str | None = Field(default=None, sa_type=sa.Text)
    carc: str | None = Field(default=None, sa_type=sa.Text)
    amount: Decimal = Field(sa_type=MONEY)
    balance_after: Decimal = Field(sa_type=MONEY)
    source_event_id: UUID
    posted_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # Added with coordination of benefits (0006): the claim line the share is on, the payer whose
    # decision (or the payment of which) the entry records.
    line_number: int | None = None
    payer_id: str | None = Field(default=None, sa_type=sa.Text)


class BillClaim(CollectionsTable, table=True):
    """A claim of a bill (fed by the claims service's events): which primary claim it descends from
    (itself for a primary; the secondary's and tertiary's prior claims lead back to it), and what a
    statement shows of it."""

    __tablename__ = "bill_claims"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    claim_id: UUID = Field(primary_key=True)
    primary_claim_id: UUID
    patient_id: str | None = Field(default=None, sa_type=sa.Text)
    encounter_id: str | None = Field(default=None, sa_type=sa.Text)
    payer_id: str | None = Field(default=None, sa_type=sa.Text)
    payer_responsibility: str | None = Field(default=None, sa_type=sa.Text)
    total_charge: Decimal | None = Field(default=None, sa_type=MONEY)
    service_date_from: date | None = None
    service_date_to: date | None = None
    lines: list | None = Field(default=None, sa_type=JSONB)
    recorded_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class PayerAdjudication(CollectionsTable, table=True):
    """One payer decision posted on a claim (ClaimPaymentPosted), until the payer reverses it."""

    __tablename__ = "payer_adjudications"
    __table_args__ = (sa.Index("ix_payer_adjudications_claim", "tenant_id", "claim_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    claim_id: UUID
    payer_id: str = Field(sa_type=sa.Text)
    remittance_id: UUID
    source_event_id: UUID = Field(unique=True)
    charge_amount: Decimal = Field(sa_type=MONEY)
    allowed_amount: Decimal = Field(sa_type=MONEY)
    paid_amount: Decimal = Field(sa_type=MONEY)
    shares: list = Field(sa_type=JSONB)  # [{"line_number", "carc", "amount"}]: the PR adjustments
    reversed_by_event_id: UUID | None = None
    adjudicated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class PayerCreditBalance(CollectionsTable, table=True):
    """What one payer overpaid on one bill (payments beyond what the provider may collect): to refund
    or offset. Zero once resolved; the history is in the PayerCreditBalanceChanged events."""

    __tablename__ = "payer_credit_balances"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    primary_claim_id: UUID = Field(primary_key=True)
    payer_id: str = Field(sa_type=sa.Text, primary_key=True)
    patient_id: str = Field(sa_type=sa.Text)
    amount: Decimal = Field(sa_type=MONEY)
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


patient_accounts = PatientAccount.__table__
ledger_entries = LedgerEntry.__table__
bill_claims = BillClaim.__table__
payer_adjudications = PayerAdjudication.__table__
payer_credit_balances = PayerCreditBalance.__table__
target_metadata = [CollectionsTable.metadata, messaging_metadata, audit_metadata]
