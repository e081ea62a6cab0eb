"""coverage_eligibility: the payer's latest eligibility answer per patient, payer and date of
service (from EligibilityChecked), read by the scrubber's ELIG.* rules; the practice policy of
row-level security on it

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 00:15:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from openrcm_shared.row_security import isolate_practices_v1

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coverage_eligibility",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("authorization_required_service_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("primary_payer_id", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "patient_id", "payer_id", "service_date"),
    )
    isolate_practices_v1(op, "claims", practice_tables=("coverage_eligibility",), system_privileges={})


def downgrade() -> None:
    op.drop_table("coverage_eligibility")
