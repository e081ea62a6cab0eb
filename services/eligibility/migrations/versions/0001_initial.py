"""initial schema: eligibility checks, messaging tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 18:45:47.413233
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
    op.create_table('eligibility_checks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('patient_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('coverage_active', sa.Boolean(), nullable=False),
    sa.Column('plan_name', sa.Text(), nullable=True),
    sa.Column('copay_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('deductible_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('deductible_remaining', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('coinsurance_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('out_of_pocket_remaining', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_eligibility_checks_patient', 'eligibility_checks', ['tenant_id', 'patient_id', 'checked_at', 'id'], unique=False)
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    op.drop_index('ix_eligibility_checks_patient', table_name='eligibility_checks')
    op.drop_table('eligibility_checks')
