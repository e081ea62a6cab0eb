"""initial schema: denial cases, messaging tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 18:47:53.222154
"""
from alembic import op

from openrcm_shared.messaging.migrations import create_messaging_tables_v1, drop_messaging_tables_v1
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('denial_cases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('remittance_id', sa.Uuid(), nullable=False),
    sa.Column('patient_control_number', sa.String(length=20), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('denied_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('primary_group_code', sa.String(length=2), nullable=False),
    sa.Column('primary_carc', sa.Text(), nullable=False),
    sa.Column('denials', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('appeal_deadline', sa.Date(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'claim_id', 'remittance_id', name='uq_denial_cases_claim_remittance')
    )
    op.create_index('ix_denial_cases_worklist', 'denial_cases', ['tenant_id', 'status', 'denied_amount', 'id'], unique=False)
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    op.drop_index('ix_denial_cases_worklist', table_name='denial_cases')
    op.drop_table('denial_cases')
