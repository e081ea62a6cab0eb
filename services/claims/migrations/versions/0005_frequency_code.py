"""claim frequency code for replacements and voids

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 20:10:24.442310
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('claims', sa.Column('frequency_code', sa.String(length=1), server_default='1', nullable=False))


def downgrade() -> None:
    op.drop_column('claims', 'frequency_code')
