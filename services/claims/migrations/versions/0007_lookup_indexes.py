"""indexes for the lookups every claim goes through, which scanned whole tables or indexes

- claims by patient control number alone: a 277CA names each claim by our CLM01, not by practice,
  so the (tenant_id, patient_control_number) unique index could not be used by its leading column;
- ready claims, oldest first: the 837 batcher's query every second (partial: a claim is ready
  for about a second, so the index stays tiny however many claims there are);
- claim submissions by transaction set control number: the 999's AK2 finds its claims by it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 22:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_claims_patient_control_number', 'claims', ['patient_control_number'])
    op.create_index('ix_claims_ready', 'claims', ['created_at'], postgresql_where=sa.text("status = 'ready'"))
    op.create_index('ix_claim_submissions_transaction_set', 'claim_submissions', ['transaction_set_control_number'])


def downgrade() -> None:
    op.drop_index('ix_claim_submissions_transaction_set', table_name='claim_submissions')
    op.drop_index('ix_claims_ready', table_name='claims')
    op.drop_index('ix_claims_patient_control_number', table_name='claims')
