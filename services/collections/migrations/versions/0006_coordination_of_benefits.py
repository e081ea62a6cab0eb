"""coordination of benefits: the claims of each bill (primary and next payers), the payers' decisions,
payer credit balances (overpayments); ledger entries name the claim line and the payer. New practice
tables under the practice policy of row-level security.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-06 23:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from openrcm_shared.row_security import isolate_practices_v1

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

SERVICE = "collections"
NEW_PRACTICE_TABLES = ("bill_claims", "payer_adjudications", "payer_credit_balances")
MONEY = sa.Numeric(precision=12, scale=2)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("ledger_entries", sa.Column("line_number", sa.Integer(), nullable=True))
    op.add_column("ledger_entries", sa.Column("payer_id", sa.Text(), nullable=True))
    op.create_table(
        "bill_claims",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("primary_claim_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=True),
        sa.Column("encounter_id", sa.Text(), nullable=True),
        sa.Column("payer_id", sa.Text(), nullable=True),
        sa.Column("payer_responsibility", sa.Text(), nullable=True),
        sa.Column("total_charge", MONEY, nullable=True),
        sa.Column("service_date_from", sa.Date(), nullable=True),
        sa.Column("service_date_to", sa.Date(), nullable=True),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "claim_id"),
    )
    op.create_index("ix_bill_claims_primary", "bill_claims", ["tenant_id", "primary_claim_id"])
    op.create_table(
        "payer_adjudications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("remittance_id", sa.Uuid(), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("charge_amount", MONEY, nullable=False),
        sa.Column("allowed_amount", MONEY, nullable=False),
        sa.Column("paid_amount", MONEY, nullable=False),
        sa.Column("shares", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reversed_by_event_id", sa.Uuid(), nullable=True),
        sa.Column("adjudicated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_event_id"),
    )
    op.create_index("ix_payer_adjudications_claim", "payer_adjudications", ["tenant_id", "claim_id"])
    op.create_table(
        "payer_credit_balances",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("primary_claim_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "primary_claim_id", "payer_id"),
    )
    isolate_practices_v1(op, SERVICE, practice_tables=NEW_PRACTICE_TABLES, system_privileges={})


def downgrade() -> None:
    op.drop_table("payer_credit_balances")
    op.drop_index("ix_payer_adjudications_claim", table_name="payer_adjudications")
    op.drop_table("payer_adjudications")
    op.drop_index("ix_bill_claims_primary", table_name="bill_claims")
    op.drop_table("bill_claims")
    op.drop_column("ledger_entries", "payer_id")
    op.drop_column("ledger_entries", "line_number")
