"""270/271 eligibility: checks asked of payers (trace number, raw 270 and 271, normalized answer,
attempts, batch), the coverages claims registered, the queue of checks to (re)send, and batches;
row-level security on the new tables (the practice policy; the system role reads the queue only)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:50:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from openrcm_shared.row_security import isolate_practices_v1

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SERVICE = "eligibility"
NEW_PRACTICE_TABLES = ("eligibility_coverages", "pending_eligibility_checks", "eligibility_batches")


def upgrade() -> None:
    for column in ("patient_id", "coverage_active", "checked_at"):
        op.alter_column("eligibility_checks", column, nullable=True)
    columns = [
        sa.Column("coverage_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False, server_default="unknown"),
        sa.Column("origin", sa.Text(), nullable=False, server_default="recorded"),
        sa.Column("trace_number", sa.Text(), nullable=True),
        sa.Column("service_types", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("provider_npi", sa.String(10), nullable=True),
        sa.Column("provider_name", sa.Text(), nullable=True),
        sa.Column("request_x12", sa.Text(), nullable=True),
        sa.Column("response_x12", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
    ]
    for column in columns:
        op.add_column("eligibility_checks", column)
    # Answers recorded before 270/271 keep their meaning: active or inactive, asked when answered.
    op.execute("UPDATE eligibility_checks SET status = CASE WHEN coverage_active THEN 'active' ELSE 'inactive' END, "
               "requested_at = checked_at")
    op.alter_column("eligibility_checks", "requested_at", nullable=False)
    for column in ("status", "origin", "attempts"):
        op.alter_column("eligibility_checks", column, server_default=None)
    op.create_index("ix_eligibility_checks_coverage", "eligibility_checks",
                    ["tenant_id", "coverage_id", "service_date", "requested_at"])
    op.create_index("uq_eligibility_checks_trace", "eligibility_checks", ["tenant_id", "trace_number"], unique=True)
    op.create_index("ix_eligibility_checks_member", "eligibility_checks", ["tenant_id", "payer_id", "member_id"])
    op.create_index("ix_eligibility_checks_batch", "eligibility_checks", ["batch_id", "status"])

    op.create_table(
        "eligibility_coverages",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("coverage_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("payer_name", sa.Text(), nullable=True),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("group_number", sa.Text(), nullable=True),
        sa.Column("relationship_to_subscriber", sa.String(2), nullable=False),
        sa.Column("order_of_benefits", sa.SmallInteger(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("patient", postgresql.JSONB(), nullable=False),
        sa.Column("subscriber", postgresql.JSONB(), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recheck_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "patient_id", "coverage_id"),
    )
    op.create_index("ix_eligibility_coverages_coverage", "eligibility_coverages", ["tenant_id", "coverage_id"])
    op.create_index("ix_eligibility_coverages_member", "eligibility_coverages", ["tenant_id", "payer_id", "member_id"])
    op.create_table(
        "pending_eligibility_checks",
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("check_id"),
    )
    op.create_index("ix_pending_eligibility_checks_due", "pending_eligibility_checks", ["due_at"])
    op.create_table(
        "eligibility_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("check_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    # The worker finds due checks across practices (ids, practice, payer, due time: no PHI) and leases
    # them by moving due_at; the work itself runs as the practice.
    isolate_practices_v1(op, SERVICE, practice_tables=NEW_PRACTICE_TABLES,
                         system_privileges={"pending_eligibility_checks": "SELECT, UPDATE"})


def downgrade() -> None:
    for table in ("eligibility_batches", "pending_eligibility_checks", "eligibility_coverages"):
        op.drop_table(table)
    for index in ("ix_eligibility_checks_batch", "ix_eligibility_checks_member", "uq_eligibility_checks_trace",
                  "ix_eligibility_checks_coverage"):
        op.drop_index(index, table_name="eligibility_checks")
    for column in ("requested_at", "batch_id", "last_error", "attempts", "result", "response_x12", "request_x12",
                   "provider_name", "provider_npi", "service_types", "trace_number", "origin", "status",
                   "coverage_id"):
        op.drop_column("eligibility_checks", column)
