"""A/R month-end snapshots: receivable_month_ends (each closed month's open aging cells: insurance by
basis date and group, patient by basis date and provider) and receivable_closed_months (how far each
practice is closed); indexes for the months' reads (the rollup by month moved, the ledger by posting
time, the movements by day with the aging's columns included). The month-end closer (system role)
finds the practices from receivable_daily_totals' keys, then acts for each practice as the app role.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 02:50:00.000000
"""
from alembic import op
import sqlalchemy as sa

from openrcm_shared.row_security import isolate_practices_v1

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NEW_PRACTICE_TABLES = ("receivable_month_ends", "receivable_closed_months")
# Which practices have receivables (and since when): no amounts, no patients.
MOVEMENT_AGING_COLUMNS = ("amount", "service_date", "first_billed_on", "payer_id", "financial_class", "provider_npi")
SYSTEM_PRIVILEGES = {"receivable_daily_totals": "SELECT (tenant_id, occurred_on)"}


def upgrade() -> None:
    op.create_table(
        "receivable_month_ends",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("receivable", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("basis_date", sa.Date(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("financial_class", sa.Text(), nullable=False),
        sa.Column("provider_npi", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "month", "receivable", "basis", "basis_date", "payer_id",
                                "financial_class", "provider_npi"),
    )
    op.create_table(
        "receivable_closed_months",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("closed_through", sa.Date(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    op.create_index("ix_receivable_rollup_month", "receivable_rollup", ["tenant_id", "occurred_month"])
    # The aging reads the movements after a month-end snapshot from this index alone (index-only scan).
    op.drop_index("ix_receivable_movements_date", table_name="receivable_movements")
    op.create_index("ix_receivable_movements_date", "receivable_movements", ["tenant_id", "occurred_on"],
                    postgresql_include=list(MOVEMENT_AGING_COLUMNS))
    op.create_index("ix_ledger_entries_posted", "ledger_entries", ["tenant_id", "posted_at"])
    isolate_practices_v1(op, "collections", practice_tables=NEW_PRACTICE_TABLES, system_privileges=SYSTEM_PRIVILEGES)


def downgrade() -> None:
    op.execute("REVOKE SELECT (tenant_id, occurred_on) ON receivable_daily_totals FROM openrcm_collections_system")
    op.drop_index("ix_ledger_entries_posted", table_name="ledger_entries")
    op.drop_index("ix_receivable_rollup_month", table_name="receivable_rollup")
    op.drop_index("ix_receivable_movements_date", table_name="receivable_movements")
    op.create_index("ix_receivable_movements_date", "receivable_movements", ["tenant_id", "occurred_on"])
    op.drop_table("receivable_closed_months")
    op.drop_table("receivable_month_ends")
