"""payer registry and provider enrollments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:08:12.787174
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payers',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('claim_types', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('timely_filing_days', sa.Integer(), nullable=False),
    sa.Column('enrollment_required', sa.Boolean(), nullable=False),
    sa.Column('replacement_claims_accepted', sa.Boolean(), nullable=False),
    sa.Column('acknowledgement_follow_up_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'payer_id')
    )
    op.create_table('provider_enrollments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('npi', sa.String(length=10), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_provider_enrollments_lookup', 'provider_enrollments', ['tenant_id', 'npi', 'payer_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_provider_enrollments_lookup', table_name='provider_enrollments')
    op.drop_table('provider_enrollments')
    op.drop_table('payers')
