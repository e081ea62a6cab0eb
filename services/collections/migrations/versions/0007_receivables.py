"""insurance receivables: receivable_claims (what is known of each claim), receivable_movements
(append-only, dated: the receivable on any past date) with their summaries for the reports
(receivable_rollup, receivable_daily_totals), payer follow-up ages, the follow-up worklist's
assignments and notes; each under the practice policy of row-level security

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:45:00.000000
"""
from alembic import op
import sqlalchemy as sa

from openrcm_shared.row_security import isolate_practices_v1


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=12, scale=2)
TABLES = ("receivable_claims", "receivable_movements", "receivable_rollup", "receivable_daily_totals",
          "payer_follow_up_settings", "follow_up_assignments", "follow_up_notes")


def _money(name: str) -> sa.Column:
    return sa.Column(name, MONEY, nullable=False, server_default=sa.text("0"))


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))


def upgrade() -> None:
    op.create_table(
        "receivable_claims",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=True),
        sa.Column("payer_id", sa.Text(), nullable=True),
        sa.Column("encounter_id", sa.Text(), nullable=True),
        sa.Column("payer_responsibility", sa.String(length=1), nullable=True),
        sa.Column("prior_claim_id", sa.Uuid(), nullable=True),
        sa.Column("prior_patient_responsibility", MONEY, nullable=True),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("first_billed_on", sa.Date(), nullable=True),
        sa.Column("billing_provider_npi", sa.Text(), nullable=True),
        sa.Column("rendering_provider_npi", sa.Text(), nullable=True),
        sa.Column("financial_class", sa.Text(), nullable=True),
        _money("billed_amount"), _money("balance"),
        _count("submission_count"), _count("rejection_count"), _count("hold_count"),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unacknowledged_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_adjudicated_on", sa.Date(), nullable=True),
        sa.Column("first_outcome", sa.Text(), nullable=True),
        sa.Column("last_remitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inquiry_category_code", sa.Text(), nullable=True),
        sa.Column("inquiry_status_code", sa.Text(), nullable=True),
        sa.Column("inquiry_answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "claim_id"),
    )
    op.create_index("ix_receivable_claims_payer", "receivable_claims", ["tenant_id", "payer_id"])
    op.create_table(
        "receivable_movements",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("movement_kind", sa.Text(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        _money("billed"), _money("paid"), _money("contractual"), _money("other_adjustment"),
        _money("patient_transfer"), _money("prior_payer"), _money("denied"),
        sa.Column("remittance_id", sa.Uuid(), nullable=True),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("first_billed_on", sa.Date(), nullable=True),
        sa.Column("financial_class", sa.Text(), nullable=True),
        sa.Column("provider_npi", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_receivable_movements_claim", "receivable_movements", ["tenant_id", "claim_id", "id"])
    op.create_index("ix_receivable_movements_date", "receivable_movements", ["tenant_id", "occurred_on"])
    op.create_index("ix_receivable_claims_first_billed", "receivable_claims", ["tenant_id", "first_billed_on"])
    op.create_index("ix_receivable_claims_first_adjudicated", "receivable_claims",
                    ["tenant_id", "first_adjudicated_on"])
    op.create_table(
        "receivable_rollup",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("basis_date", sa.Date(), nullable=False),
        sa.Column("occurred_month", sa.Date(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("financial_class", sa.Text(), nullable=False),
        sa.Column("provider_npi", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "basis", "basis_date", "occurred_month", "payer_id", "financial_class",
                                "provider_npi"),
    )
    op.create_table(
        "receivable_daily_totals",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Numeric(precision=14, scale=2), nullable=False, server_default=sa.text("0"))
          for name in ("billed", "paid", "contractual", "denied")),
        _count("denied_claims"), _count("adjudicated_claims"),
        sa.Column("adjudicated_charges", sa.Numeric(precision=14, scale=2), nullable=False,
                  server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("tenant_id", "occurred_on"),
    )
    op.create_table(
        "payer_follow_up_settings",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("follow_up_after_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "payer_id"),
    )
    op.create_table(
        "follow_up_assignments",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("next_action_on", sa.Date(), nullable=True),
        sa.Column("last_outcome", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "claim_id"),
    )
    op.create_table(
        "follow_up_notes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("next_action_on", sa.Date(), nullable=True),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_follow_up_notes_claim", "follow_up_notes", ["tenant_id", "claim_id", "id"])
    # The app role (consumer, API) works on these; the system role has no work across practices here.
    isolate_practices_v1(op, "collections", practice_tables=TABLES, system_privileges={})


def downgrade() -> None:
    op.drop_index("ix_follow_up_notes_claim", table_name="follow_up_notes")
    for table in ("follow_up_notes", "follow_up_assignments", "payer_follow_up_settings", "receivable_daily_totals",
                  "receivable_rollup"):
        op.drop_table(table)
    op.drop_index("ix_receivable_movements_date", table_name="receivable_movements")
    op.drop_index("ix_receivable_movements_claim", table_name="receivable_movements")
    op.drop_table("receivable_movements")
    op.drop_index("ix_receivable_claims_first_adjudicated", table_name="receivable_claims")
    op.drop_index("ix_receivable_claims_first_billed", table_name="receivable_claims")
    op.drop_index("ix_receivable_claims_payer", table_name="receivable_claims")
    op.drop_table("receivable_claims")
