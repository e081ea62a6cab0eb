"""The collections database: patient accounts and their ledgers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from openrcm_collections.adapters.receivable_tables import receivables_metadata
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


patient_accounts = PatientAccount.__table__
ledger_entries = LedgerEntry.__table__
target_metadata = [CollectionsTable.metadata, messaging_metadata, audit_metadata, receivables_metadata]
