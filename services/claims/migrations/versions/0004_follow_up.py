"""timely filing alerts and acknowledgement follow-up

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 20:07:50.514758
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('filing_deadline_alerts',
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('alerted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('claim_id', 'days_before')
    )
    op.add_column('claims', sa.Column('follow_up_flagged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('claims', 'follow_up_flagged_at')
    op.drop_table('filing_deadline_alerts')
