"""submissions the clearinghouse refused: the reason it gave (status `refused`), and the pending
files found by an index (the sender claims the oldest pending file under SKIP LOCKED each time).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("refusal_reason", sa.Text(), nullable=True))
    op.create_index("ix_submissions_pending", "submissions", ["created_at"],
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("ix_submissions_pending", table_name="submissions")
    op.drop_column("submissions", "refusal_reason")
