"""The remittance database: what each payer paid, posted line by line, and the claims it expects."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from openrcm_shared.messaging.tables import messaging_metadata


class RemittanceTable(SQLModel, registry=registry()):
    pass


MONEY = sa.Numeric(12, 2)


class ExpectedClaim(RemittanceTable, table=True):
    """A projection of ClaimSubmitted: what a remittance is matched against (CLP01 -> claim)."""

    __tablename__ = "expected_claims"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "patient_control_number", name="uq_expected_claims_pcn"),)

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


class Remittance(RemittanceTable, table=True):
    __tablename__ = "remittances"
    __table_args__ = (
        # One payment (payer + TRN02 trace number) is posted once, whatever file it comes in.
        sa.UniqueConstraint("tenant_id", "payer_id", "trace_number", name="uq_remittances_payment"),
    )

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    payer_id: str = Field(sa_type=sa.Text)
    trace_number: str = Field(sa_type=sa.Text)
    payment_amount: Decimal = Field(sa_type=MONEY)
    payment_date: date
    source: str = Field(sa_type=sa.Text)
    received_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    document: dict = Field(sa_type=pg.JSONB)


class ClaimPayment(RemittanceTable, table=True):
    __tablename__ = "claim_payments"
    __table_args__ = (sa.Index("ix_claim_payments_claim", "claim_id"),)

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


class PostingEntry(RemittanceTable, table=True):
    """One posted amount: a line payment or an adjustment with its group code and CARC."""

    __tablename__ = "posting_entries"
    __table_args__ = (sa.Index("ix_posting_entries_payment", "claim_payment_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    tenant_id: str = Field(sa_type=sa.Text)
    claim_payment_id: UUID = Field(sa_column_args=[sa.ForeignKey("claim_payments.id")])
    claim_id: UUID
    line_number: int | None = None
    entry_type: str = Field(sa_type=sa.Text)  # payment | adjustment
    group_code: str | None = Field(default=None, sa_type=sa.String(2))
    carc: str | None = Field(default=None, sa_type=sa.Text)
    amount: Decimal = Field(sa_type=MONEY)


expected_claims = ExpectedClaim.__table__
remittances = Remittance.__table__
claim_payments = ClaimPayment.__table__
posting_entries = PostingEntry.__table__
target_metadata = [RemittanceTable.metadata, messaging_metadata]
