"""fee_schedule_rates: each payer's contracted rates as remittance announces them
(FeeScheduleReplaced), for patient estimates; the practice policy of row-level security on it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:20:00.000000
"""
import sqlalchemy as sa
from alembic import op

from openrcm_shared.row_security import isolate_practices_v1

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fee_schedule_rates",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("procedure_code", sa.Text(), nullable=False),
        sa.Column("modifier", sa.Text(), nullable=True),
        sa.Column("allowed_amount", sa.Numeric(14, 4), nullable=False),  # per unit, as remittance keeps it
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "payer_id", "row_index"),
    )
    op.create_index("ix_fee_schedule_rates_procedure", "fee_schedule_rates", ["tenant_id", "payer_id", "procedure_code"])
    isolate_practices_v1(op, "eligibility", practice_tables=("fee_schedule_rates",), system_privileges={})


def downgrade() -> None:
    op.drop_table("fee_schedule_rates")
