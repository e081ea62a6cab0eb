"""contracted fee schedules (versions, entries), payment variances; deposits and EFT reassociation

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 20:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fee_schedule_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('variance_tolerance', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'payer_id', 'version', name='uq_fee_schedule_versions')
    )
    op.create_table('fee_schedules',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('current_version_id', sa.Uuid(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['current_version_id'], ['fee_schedule_versions.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'payer_id')
    )
    op.create_table('fee_schedule_entries',
    sa.Column('version_id', sa.Uuid(), nullable=False),
    sa.Column('row_index', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('procedure_code', sa.String(length=5), nullable=False),
    sa.Column('modifier', sa.String(length=2), nullable=True),
    sa.Column('allowed_amount', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['fee_schedule_versions.id'], ),
    sa.PrimaryKeyConstraint('version_id', 'row_index')
    )
    op.create_index('ix_fee_schedule_entries_procedure', 'fee_schedule_entries', ['version_id', 'procedure_code'],
                    unique=False)
    op.create_table('payment_variances',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('remittance_id', sa.Uuid(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('procedure_code', sa.Text(), nullable=False),
    sa.Column('modifiers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('units', sa.Numeric(precision=9, scale=3), nullable=False),
    sa.Column('contracted_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('allowed_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('paid_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('variance_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('beyond_tolerance', sa.Boolean(), nullable=False),
    sa.Column('fee_schedule_version_id', sa.Uuid(), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['fee_schedule_version_id'], ['fee_schedule_versions.id'], ),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_payment_variances_claim', 'payment_variances', ['tenant_id', 'claim_id'], unique=False)
    op.create_index('ix_payment_variances_largest', 'payment_variances', ['tenant_id', 'variance_amount', 'id'],
                    unique=False)
    op.create_index('ix_payment_variances_recent', 'payment_variances', ['tenant_id', 'detected_at', 'id'],
                    unique=False)
    op.create_index('ix_payment_variances_remittance', 'payment_variances', ['remittance_id'], unique=False)
    op.create_table('deposits',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('trace_number', sa.Text(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('deposit_date', sa.Date(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=True),
    sa.Column('payer_tin', sa.String(length=9), nullable=True),
    sa.Column('bank_reference', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('remittance_id', sa.Uuid(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('matched_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'trace_number', 'amount', name='uq_deposits_eft')
    )
    op.create_index('ix_deposits_status', 'deposits', ['tenant_id', 'status', 'received_at', 'id'], unique=False)
    op.create_index('uq_deposits_remittance', 'deposits', ['remittance_id'], unique=True,
                    postgresql_where=sa.text('remittance_id IS NOT NULL'))
    op.create_table('remittance_originators',
    sa.Column('remittance_id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('originating_company_id', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], ),
    sa.PrimaryKeyConstraint('remittance_id')
    )
    # A deposit looks for its ERA by trace number alone (the bank may not say which payer sent it).
    op.create_index('ix_remittances_trace', 'remittances', ['tenant_id', 'trace_number'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_remittances_trace', table_name='remittances')
    op.drop_table('remittance_originators')
    op.drop_index('uq_deposits_remittance', table_name='deposits', postgresql_where=sa.text('remittance_id IS NOT NULL'))
    op.drop_index('ix_deposits_status', table_name='deposits')
    op.drop_table('deposits')
    op.drop_index('ix_payment_variances_remittance', table_name='payment_variances')
    op.drop_index('ix_payment_variances_recent', table_name='payment_variances')
    op.drop_index('ix_payment_variances_largest', table_name='payment_variances')
    op.drop_index('ix_payment_variances_claim', table_name='payment_variances')
    op.drop_table('payment_variances')
    op.drop_index('ix_fee_schedule_entries_procedure', table_name='fee_schedule_entries')
    op.drop_table('fee_schedule_entries')
    op.drop_table('fee_schedules')
    op.drop_table('fee_schedule_versions')
