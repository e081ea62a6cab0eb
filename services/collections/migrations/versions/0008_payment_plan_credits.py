"""patient_payments.plan_credits: which plan installments a payment paid and how much of each, so a
returned payment (NSF check, ACH return, chargeback) un-pays exactly those

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:05:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("patient_payments", sa.Column("plan_credits", pg.JSONB(), nullable=False,
                                                server_default=sa.text("'[]'::jsonb")))


def downgrade() -> None:
    op.drop_column("patient_payments", "plan_credits")
