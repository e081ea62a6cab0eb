"""Uploaded 271 files stored once in chunks, each check pointing at its transaction set in its file;
parts of large fee schedules (FeeScheduleRatesPublished) kept until the last arrives; the practice
policy of row-level security on the new tables (retention, as the system role, prunes file chunks)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 03:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from openrcm_shared.row_security import isolate_practices_v1

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eligibility_response_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_chars", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_pruned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_eligibility_response_files_prunable", "eligibility_response_files", ["received_at"],
                    postgresql_where=sa.text("content_pruned_at IS NULL"))
    op.create_table(
        "eligibility_response_file_chunks",
        sa.Column("file_id", sa.Uuid(), sa.ForeignKey("eligibility_response_files.id"), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", "sequence"),
    )
    op.add_column("eligibility_checks", sa.Column("response_file_id", sa.Uuid(),
                                                  sa.ForeignKey("eligibility_response_files.id"), nullable=True))
    op.add_column("eligibility_checks", sa.Column("response_location", postgresql.JSONB(), nullable=True))
    op.create_table(
        "fee_schedule_rate_parts",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=False),
        sa.Column("first_row_index", sa.Integer(), nullable=False),
        sa.Column("rates", postgresql.JSONB(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "payer_id", "version", "part"),
    )
    isolate_practices_v1(op, "eligibility", practice_tables=(
        "eligibility_response_files", "eligibility_response_file_chunks", "fee_schedule_rate_parts"),
        system_privileges={"eligibility_response_files": "SELECT, UPDATE",
                           "eligibility_response_file_chunks": "SELECT, DELETE"})


def downgrade() -> None:
    op.drop_table("fee_schedule_rate_parts")
    op.drop_column("eligibility_checks", "response_location")
    op.drop_column("eligibility_checks", "response_file_id")
    op.drop_table("eligibility_response_file_chunks")
    op.drop_table("eligibility_response_files")
