"""835 posting: stored files, held remittances, the double-entry ledger, the unmatched queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:50:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('remittance_files',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('filename', sa.Text(), nullable=True),
    sa.Column('content_type', sa.Text(), nullable=True),
    sa.Column('webhook_id', sa.Text(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('duplicate_of', sa.Uuid(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('webhook_id')
    )
    op.create_index('ix_remittance_files_pending', 'remittance_files', ['received_at'], unique=False, postgresql_where=sa.text("status IN ('received', 'processing')"))
    op.create_index('uq_remittance_files_sha256', 'remittance_files', ['scope', 'sha256'], unique=True, postgresql_where=sa.text('duplicate_of IS NULL AND sha256 IS NOT NULL'))
    op.create_table('remittance_file_chunks',
    sa.Column('file_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['remittance_files.id'], ),
    sa.PrimaryKeyConstraint('file_id', 'sequence')
    )
    op.create_table('journal_entries',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('journal_id', sa.Uuid(), nullable=False),
    sa.Column('remittance_id', sa.Uuid(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=True),
    sa.Column('line_number', sa.Integer(), nullable=True),
    sa.Column('account', sa.Text(), nullable=False),
    sa.Column('group_code', sa.String(length=2), nullable=True),
    sa.Column('reason_code', sa.Text(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_journal_entries_claim', 'journal_entries', ['claim_id'], unique=False)
    op.create_index('ix_journal_entries_journal', 'journal_entries', ['journal_id'], unique=False)
    op.create_index('ix_journal_entries_remittance', 'journal_entries', ['remittance_id'], unique=False)
    op.create_table('unmatched_items',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('remittance_id', sa.Uuid(), nullable=False),
    sa.Column('claim_sequence', sa.Integer(), nullable=False),
    sa.Column('line_sequence', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('patient_control_number', sa.Text(), nullable=False),
    sa.Column('payer_claim_control_number', sa.Text(), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('candidates', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('matched_claim_id', sa.Uuid(), nullable=True),
    sa.Column('matched_line_number', sa.Integer(), nullable=True),
    sa.Column('matched_by', sa.Text(), nullable=True),
    sa.Column('matched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('match_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_unmatched_items_open', 'unmatched_items', ['tenant_id', 'status', 'created_at'], unique=False)
    op.create_index('ix_unmatched_items_remittance', 'unmatched_items', ['remittance_id'], unique=False)
    op.drop_index(op.f('ix_posting_entries_payment'), table_name='posting_entries')
    op.drop_table('posting_entries')
    op.add_column('claim_payments', sa.Column('claim_status_code', sa.String(length=2), nullable=True))
    op.add_column('claim_payments', sa.Column('sequence', sa.Integer(), server_default='0', nullable=False))
    op.add_column('claim_payments', sa.Column('reversal_of', sa.Uuid(), nullable=True))
    op.add_column('claim_payments', sa.Column('reversed_by', sa.Uuid(), nullable=True))
    op.add_column('claim_payments', sa.Column('crossover_payer_name', sa.Text(), nullable=True))
    op.add_column('claim_payments', sa.Column('crossover_payer_id', sa.Text(), nullable=True))
    op.create_index('ix_claim_payments_remittance', 'claim_payments', ['remittance_id'], unique=False)
    op.create_index('ix_expected_claims_pcn', 'expected_claims', ['patient_control_number'], unique=False)
    op.add_column('remittances', sa.Column('status', sa.Text(), server_default='posted', nullable=False))
    op.add_column('remittances', sa.Column('file_id', sa.Uuid(), nullable=True))
    op.add_column('remittances', sa.Column('transaction_index', sa.Integer(), nullable=True))
    op.add_column('remittances', sa.Column('transaction_set_control_number', sa.Text(), nullable=True))
    op.add_column('remittances', sa.Column('payer_name', sa.Text(), nullable=True))
    op.add_column('remittances', sa.Column('payee_name', sa.Text(), nullable=True))
    op.add_column('remittances', sa.Column('payee_identifier', sa.Text(), nullable=True))
    op.add_column('remittances', sa.Column('payment_method', sa.Text(), nullable=True))
    op.add_column('remittances', sa.Column('provider_adjustment_amount', sa.Numeric(precision=12, scale=2), server_default='0', nullable=False))
    op.add_column('remittances', sa.Column('claim_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('remittances', sa.Column('held_reasons', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('remittances', sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True))
    op.alter_column('remittances', 'document',
               existing_type=postgresql.JSONB(astext_type=sa.Text()),
               nullable=True)
    op.drop_constraint(op.f('uq_remittances_payment'), 'remittances', type_='unique')
    op.create_unique_constraint('uq_remittances_payment', 'remittances', ['tenant_id', 'payer_id', 'trace_number', 'payment_amount'])
    op.create_index('ix_remittances_status', 'remittances', ['tenant_id', 'status', 'received_at'], unique=False)
    op.create_foreign_key('remittances_file_id_fkey', 'remittances', 'remittance_files', ['file_id'], ['id'])


def downgrade() -> None:
    op.drop_constraint('remittances_file_id_fkey', 'remittances', type_='foreignkey')
    op.drop_index('ix_remittances_status', table_name='remittances')
    op.drop_constraint('uq_remittances_payment', 'remittances', type_='unique')
    op.create_unique_constraint('uq_remittances_payment', 'remittances', ['tenant_id', 'payer_id', 'trace_number'])
    op.alter_column('remittances', 'document',
               existing_type=postgresql.JSONB(astext_type=sa.Text()),
               nullable=False)
    op.drop_column('remittances', 'posted_at')
    op.drop_column('remittances', 'held_reasons')
    op.drop_column('remittances', 'claim_count')
    op.drop_column('remittances', 'provider_adjustment_amount')
    op.drop_column('remittances', 'payment_method')
    op.drop_column('remittances', 'payee_identifier')
    op.drop_column('remittances', 'payee_name')
    op.drop_column('remittances', 'payer_name')
    op.drop_column('remittances', 'transaction_set_control_number')
    op.drop_column('remittances', 'transaction_index')
    op.drop_column('remittances', 'file_id')
    op.drop_column('remittances', 'status')
    op.drop_index('ix_expected_claims_pcn', table_name='expected_claims')
    op.drop_index('ix_claim_payments_remittance', table_name='claim_payments')
    op.drop_column('claim_payments', 'crossover_payer_id')
    op.drop_column('claim_payments', 'crossover_payer_name')
    op.drop_column('claim_payments', 'reversed_by')
    op.drop_column('claim_payments', 'reversal_of')
    op.drop_column('claim_payments', 'sequence')
    op.drop_column('claim_payments', 'claim_status_code')
    op.create_table('posting_entries',
    sa.Column('id', sa.BIGINT(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.TEXT(), autoincrement=False, nullable=False),
    sa.Column('claim_payment_id', sa.UUID(), autoincrement=False, nullable=False),
    sa.Column('claim_id', sa.UUID(), autoincrement=False, nullable=False),
    sa.Column('line_number', sa.INTEGER(), autoincrement=False, nullable=True),
    sa.Column('entry_type', sa.TEXT(), autoincrement=False, nullable=False),
    sa.Column('group_code', sa.VARCHAR(length=2), autoincrement=False, nullable=True),
    sa.Column('carc', sa.TEXT(), autoincrement=False, nullable=True),
    sa.Column('amount', sa.NUMERIC(precision=12, scale=2), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['claim_payment_id'], ['claim_payments.id'], name=op.f('posting_entries_claim_payment_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('posting_entries_pkey'))
    )
    op.create_index(op.f('ix_posting_entries_payment'), 'posting_entries', ['claim_payment_id'], unique=False)
    op.drop_index('ix_unmatched_items_remittance', table_name='unmatched_items')
    op.drop_index('ix_unmatched_items_open', table_name='unmatched_items')
    op.drop_table('unmatched_items')
    op.drop_index('ix_journal_entries_remittance', table_name='journal_entries')
    op.drop_index('ix_journal_entries_journal', table_name='journal_entries')
    op.drop_index('ix_journal_entries_claim', table_name='journal_entries')
    op.drop_table('journal_entries')
    op.drop_table('remittance_file_chunks')
    op.drop_index('uq_remittance_files_sha256', table_name='remittance_files', postgresql_where=sa.text('duplicate_of IS NULL AND sha256 IS NOT NULL'))
    op.drop_index('ix_remittance_files_pending', table_name='remittance_files', postgresql_where=sa.text("status IN ('received', 'processing')"))
    op.drop_table('remittance_files')
