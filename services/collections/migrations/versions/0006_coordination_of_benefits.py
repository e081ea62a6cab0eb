"""patient accounts: coordination of benefits (the claims of each bill, the payers' decisions, payer
credit balances), guarantors and account holds, patient payments and refunds, adjustments with
approval, payment plans and their installments, statement runs and statements; ledger entries name
the claim line, the payer and the movement (payment, adjustment, refund...) they belong to. Every new
table holds practice data under the practice policy of row-level security; the scheduler (system
role) finds the practices with installments due.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from openrcm_shared.row_security import isolate_practices_v1

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SERVICE = "collections"
NEW_PRACTICE_TABLES = ("bill_claims", "payer_adjudications", "payer_credit_balances", "patient_payments",
                       "account_refunds", "account_adjustments", "payment_plans", "plan_installments",
                       "statement_runs", "statements")
# The scheduler's work across practices: finding the practices with installments due (it then acts
# for each practice as the app role).
SYSTEM_PRIVILEGES = {"plan_installments": "SELECT"}
MONEY = sa.Numeric(precision=12, scale=2)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("ledger_entries", sa.Column("line_number", sa.Integer(), nullable=True))
    op.add_column("ledger_entries", sa.Column("payer_id", sa.Text(), nullable=True))
    op.add_column("ledger_entries", sa.Column("movement_id", sa.Uuid(), nullable=True))
    op.add_column("patient_accounts", sa.Column("guarantor", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("patient_accounts", sa.Column("hold_reason", sa.Text(), nullable=True))
    op.add_column("patient_accounts", sa.Column("dunning_stage", sa.Text(), nullable=True))
    op.add_column("patient_accounts", sa.Column("dunning_stage_at", WHEN, nullable=True))
    op.add_column("patient_accounts", sa.Column("last_statement_on", sa.Date(), nullable=True))
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
        sa.Column("provider_name", sa.Text(), nullable=True),
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
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
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
    op.create_table(
        "patient_payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("processor_token", sa.Text(), nullable=True),
        sa.Column("processor_authorization_id", sa.Text(), nullable=True),
        sa.Column("processor_capture_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("decline_code", sa.Text(), nullable=True),
        sa.Column("returned_reason", sa.Text(), nullable=True),
        sa.Column("refunded_amount", MONEY, nullable=False, server_default="0"),
        sa.Column("allocations", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=True),
        sa.Column("received_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_patient_payments_account", "patient_payments", ["tenant_id", "patient_id", "received_at"])
    op.create_index("ix_patient_payments_capture", "patient_payments", ["processor_capture_id"])
    op.create_table(
        "account_refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("processor_refund_id", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=True),
        sa.Column("refunded_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "account_adjustments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.Text(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("financial_assistance", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("reverses_adjustment_id", sa.Uuid(), nullable=True),
        sa.Column("requested_at", WHEN, nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_adjustments_account", "account_adjustments", ["tenant_id", "patient_id"])
    op.create_table(
        "payment_plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("frequency", sa.Text(), nullable=False),
        sa.Column("autopay_token", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_payment_plans_account", "payment_plans", ["tenant_id", "patient_id"])
    op.create_table(
        "plan_installments",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("paid_amount", MONEY, nullable=False, server_default="0"),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("plan_id", "number"),
    )
    op.create_index("ix_plan_installments_due", "plan_installments", ["status", "due_date"])
    op.create_table(
        "statement_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("statement_count", sa.Integer(), nullable=False),
        sa.Column("placed_count", sa.Integer(), nullable=False),
        sa.Column("batch_file", sa.LargeBinary(), nullable=False),
        sa.Column("agency_file", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "statements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("statement_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_due", MONEY, nullable=False),
        sa.Column("dunning_stage", sa.Text(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_statements_account", "statements", ["tenant_id", "patient_id", "statement_on"])
    isolate_practices_v1(op, SERVICE, practice_tables=NEW_PRACTICE_TABLES, system_privileges=SYSTEM_PRIVILEGES)


def downgrade() -> None:
    for table in ("statements", "statement_runs", "plan_installments", "payment_plans", "account_adjustments",
                  "account_refunds", "patient_payments"):
        op.drop_table(table)
    for column in ("last_statement_on", "dunning_stage_at", "dunning_stage", "hold_reason", "guarantor"):
        op.drop_column("patient_accounts", column)
    op.drop_column("ledger_entries", "movement_id")
    op.drop_table("payer_credit_balances")
    op.drop_index("ix_payer_adjudications_claim", table_name="payer_adjudications")
    op.drop_table("payer_adjudications")
    op.drop_index("ix_bill_claims_primary", table_name="bill_claims")
    op.drop_table("bill_claims")
    op.drop_column("ledger_entries", "payer_id")
    op.drop_column("ledger_entries", "line_number")
