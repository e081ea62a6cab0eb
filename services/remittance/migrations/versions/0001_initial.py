"""initial schema: expected claims, remittances, claim payments, posting entries, messaging tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 18:47:27.637235
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
    op.create_table('expected_claims',
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('patient_control_number', sa.String(length=20), nullable=False),
    sa.Column('patient_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('total_charge', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.PrimaryKeyConstraint('claim_id'),
    sa.UniqueConstraint('tenant_id', 'patient_control_number', name='uq_expected_claims_pcn')
    )
    op.create_table('remittances',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('trace_number', sa.Text(), nullable=False),
    sa.Column('payment_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('payment_date', sa.Date(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'payer_id', 'trace_number', name='uq_remittances_payment')
    )
    op.create_table('claim_payments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('remittance_id', sa.Uuid(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('charge_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('allowed_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('paid_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('patient_responsibility_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('denied_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('payer_claim_control_number', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_claim_payments_claim', 'claim_payments', ['claim_id'], unique=False)
    op.create_table('posting_entries',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('claim_payment_id', sa.Uuid(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=True),
    sa.Column('entry_type', sa.Text(), nullable=False),
    sa.Column('group_code', sa.String(length=2), nullable=True),
    sa.Column('carc', sa.Text(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['claim_payment_id'], ['claim_payments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_posting_entries_payment', 'posting_entries', ['claim_payment_id'], unique=False)
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    op.drop_index('ix_posting_entries_payment', table_name='posting_entries')
    op.drop_table('posting_entries')
    op.drop_index('ix_claim_payments_claim', table_name='claim_payments')
    op.drop_table('claim_payments')
    op.drop_table('remittances')
    op.drop_table('expected_claims')
