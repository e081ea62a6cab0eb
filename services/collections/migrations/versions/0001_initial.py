"""initial schema: patient accounts, ledger entries, messaging tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 18:48:19.427117
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
    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('patient_id', sa.Text(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=True),
    sa.Column('remittance_id', sa.Uuid(), nullable=True),
    sa.Column('entry_kind', sa.Text(), nullable=False),
    sa.Column('responsibility_kind', sa.Text(), nullable=True),
    sa.Column('carc', sa.Text(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('balance_after', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('source_event_id', sa.Uuid(), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ledger_entries_account', 'ledger_entries', ['tenant_id', 'patient_id', 'id'], unique=False)
    op.create_table('patient_accounts',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('patient_id', sa.Text(), nullable=False),
    sa.Column('balance', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'patient_id')
    )
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    op.drop_table('patient_accounts')
    op.drop_index('ix_ledger_entries_account', table_name='ledger_entries')
    op.drop_table('ledger_entries')
