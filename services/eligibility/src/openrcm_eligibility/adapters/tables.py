"""The eligibility database: every coverage check asked and its answer."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from openrcm_shared.audit.tables import audit_metadata
from openrcm_shared.messaging.tables import messaging_metadata


class EligibilityTable(SQLModel, registry=registry()):
    pass


MONEY = sa.Numeric(12, 2)


class EligibilityCheck(EligibilityTable, table=True):
    __tablename__ = "eligibility_checks"
    __table_args__ = (sa.Index("ix_eligibility_checks_patient", "tenant_id", "patient_id", "checked_at", "id"),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    payer_id: str = Field(sa_type=sa.Text)
    member_id: str = Field(sa_type=sa.Text)
    service_date: date
    coverage_active: bool
    plan_name: str | None = Field(default=None, sa_type=sa.Text)
    copay_amount: Decimal | None = Field(default=None, sa_type=MONEY)
    deductible_amount: Decimal | None = Field(default=None, sa_type=MONEY)
    deductible_remaining: Decimal | None = Field(default=None, sa_type=MONEY)
    coinsurance_percent: Decimal | None = Field(default=None, sa_type=sa.Numeric(5, 2))
    out_of_pocket_remaining: Decimal | None = Field(default=None, sa_type=MONEY)
    checked_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


eligibility_checks = EligibilityCheck.__table__
target_metadata = [EligibilityTable.metadata, messaging_metadata, audit_metadata]
