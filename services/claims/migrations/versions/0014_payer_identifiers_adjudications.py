"""payer identifiers (the ids other parties know a payer by: NAIC code, clearinghouse payer id,
...) and each claim's own payer decisions (what the 835 said, for the FHIR ClaimResponse); both
hold a practice's rows: row-level security and the app role's privileges as for every such table
(openrcm_shared.row_security).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from openrcm_shared.row_security import isolate_practices_v1

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payer_identifiers",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "payer_id"], ["payers.tenant_id", "payers.payer_id"],
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "system", "value"),
    )
    op.create_index("ix_payer_identifiers_payer", "payer_identifiers", ["tenant_id", "payer_id"])
    op.create_table(
        "claim_adjudications",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("remittance_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("adjudicated_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("claim_status_code", sa.Text(), nullable=True),
        sa.Column("payer_claim_control_number", sa.Text(), nullable=True),
        sa.Column("charge_amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("allowed_amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("paid_amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("patient_responsibility_amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("adjustments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("patient_shares", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reversed_by_remittance_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_claim_adjudications_claim", "claim_adjudications", ["claim_id", "id"])
    isolate_practices_v1(op, "claims", practice_tables=("payer_identifiers", "claim_adjudications"),
                         system_privileges={})


def downgrade() -> None:
    op.drop_index("ix_claim_adjudications_claim", table_name="claim_adjudications")
    op.drop_table("claim_adjudications")
    op.drop_index("ix_payer_identifiers_payer", table_name="payer_identifiers")
    op.drop_table("payer_identifiers")
