"""CMS code-set files imported through the API (HCPCS, NCCI PTP, MUE, ICD-10-CM order files),
versioned by effective date, their bytes in one-megabyte chunks. CMS reference data shared by every
practice: these two tables have no tenant_id and no row-level security (openrcm_shared.row_security
REFERENCE_TABLES). The app role imports and reads them (the API and the scrubber in every
process); the system role reads them (the worker's reload).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from openrcm_shared.row_security import app_role, system_role

revision = "0013"
down_revision = "0012"
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
    for table in ("code_set_files", "code_set_file_chunks"):
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {app_role('claims')}")
        op.execute(f"GRANT SELECT ON {table} TO {system_role('claims')}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app_role('claims')}, {system_role('claims')}")


def downgrade() -> None:
    op.drop_table("code_set_file_chunks")
    op.drop_index("uq_code_set_files_sha256", table_name="code_set_files")
    op.drop_table("code_set_files")
