"""initial schema: claims, lines, history, messaging tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 18:43:53.872865
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
    op.create_table('claims',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('encounter_id', sa.Text(), nullable=False),
    sa.Column('patient_control_number', sa.String(length=20), nullable=False),
    sa.Column('patient_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('billing_npi', sa.String(length=10), nullable=False),
    sa.Column('rendering_npi', sa.String(length=10), nullable=True),
    sa.Column('place_of_service', sa.String(length=2), nullable=False),
    sa.Column('diagnosis_codes', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('coverage_status', sa.Text(), nullable=False),
    sa.Column('total_charge', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('paid_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('service_date_from', sa.Date(), nullable=False),
    sa.Column('service_date_to', sa.Date(), nullable=False),
    sa.Column('encounter_document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'encounter_id', name='uq_claims_tenant_encounter'),
    sa.UniqueConstraint('tenant_id', 'patient_control_number', name='uq_claims_tenant_pcn')
    )
    op.create_index('ix_claims_tenant_patient_payer', 'claims', ['tenant_id', 'patient_id', 'payer_id'], unique=False)
    op.create_index('ix_claims_tenant_status_created', 'claims', ['tenant_id', 'status', 'created_at', 'id'], unique=False)
    op.create_table('claim_history',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('from_status', sa.Text(), nullable=True),
    sa.Column('to_status', sa.Text(), nullable=True),
    sa.Column('event_id', sa.Uuid(), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_claim_history_claim', 'claim_history', ['claim_id', 'id'], unique=False)
    op.create_table('claim_lines',
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('procedure_code', sa.String(length=5), nullable=False),
    sa.Column('modifiers', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('units', sa.Numeric(precision=9, scale=3), nullable=False),
    sa.Column('charge_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('place_of_service', sa.String(length=2), nullable=True),
    sa.Column('diagnosis_pointers', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('claim_id', 'line_number')
    )
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    op.drop_table('claim_lines')
    op.drop_index('ix_claim_history_claim', table_name='claim_history')
    op.drop_table('claim_history')
    op.drop_index('ix_claims_tenant_status_created', table_name='claims')
    op.drop_index('ix_claims_tenant_patient_payer', table_name='claims')
    op.drop_table('claims')
