"""CMS code-set files imported through the API (HCPCS, NCCI PTP, MUE, ICD-10-CM order files),
versioned by effective date, their bytes in one-megabyte chunks. CMS reference data shared by every
practice: these two tables have no tenant_id.

Revision ID: 0013
Revises: 0011 (re-chained after the claims migrations merged before it)
Create Date: 2026-12-07 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_set_files",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("imported_by", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_by", sa.Text(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_code_set_files_sha256", "code_set_files", ["sha256"], unique=True,
                    postgresql_where=sa.text("withdrawn_at IS NULL"))
    op.create_table(
        "code_set_file_chunks",
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["code_set_files.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("file_id", "sequence"),
    )


def downgrade() -> None:
    op.drop_table("code_set_file_chunks")
    op.drop_index("uq_code_set_files_sha256", table_name="code_set_files")
    op.drop_table("code_set_files")
