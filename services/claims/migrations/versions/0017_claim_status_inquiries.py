"""claim status inquiries (X12 276/277): each inquiry asked for, sent and answered, under the
practice policy; the system role (the inquiry worker, across practices) reads and updates them

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 00:05:00.000000
"""
from alembic import op
import sqlalchemy as sa

from openrcm_shared.row_security import isolate_practices_v1


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim_status_inquiries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("category_code", sa.Text(), nullable=True),
        sa.Column("status_code", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_claim_status_inquiries_pending", "claim_status_inquiries", ["requested_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_claim_status_inquiries_claim", "claim_status_inquiries", ["claim_id", "requested_at"])
    isolate_practices_v1(op, "claims", practice_tables=("claim_status_inquiries",),
                         system_privileges={"claim_status_inquiries": "SELECT, INSERT, UPDATE"})


def downgrade() -> None:
    op.drop_index("ix_claim_status_inquiries_claim", table_name="claim_status_inquiries")
    op.drop_index("ix_claim_status_inquiries_pending", table_name="claim_status_inquiries")
    op.drop_table("claim_status_inquiries")
