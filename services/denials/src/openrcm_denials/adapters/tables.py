"""The denials database: one case per denied claim per remittance."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from openrcm_denials.adapters.appeal_tables import appeal_metadata
from openrcm_shared.audit.tables import audit_metadata
from openrcm_shared.messaging.tables import messaging_metadata


class DenialsTable(SQLModel, registry=registry()):
    pass


class DenialCase(DenialsTable, table=True):
    __tablename__ = "denial_cases"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "claim_id", "remittance_id", name="uq_denial_cases_claim_remittance"),
        sa.Index("ix_denial_cases_worklist", "tenant_id", "status", "denied_amount", "id"),
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


denial_cases = DenialCase.__table__
target_metadata = [DenialsTable.metadata, messaging_metadata, audit_metadata, appeal_metadata]
