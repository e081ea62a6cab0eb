"""claim versions, scrub results, submissions, clearinghouse deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 19:12:27.565929
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


# X12 control numbers: ISA13 (9 digits), GS06 and ST02 (up to 9 digits). A sequence that never
# cycles guarantees a number is never reused, even across crashes and concurrent batchers.
CONTROL_NUMBER_SEQUENCES = ("interchange_control_number_seq", "group_control_number_seq",
                            "transaction_set_control_number_seq")


def upgrade() -> None:
    for sequence in CONTROL_NUMBER_SEQUENCES:
        op.execute(f"CREATE SEQUENCE {sequence} MINVALUE 1 MAXVALUE 999999999 NO CYCLE")
    op.create_table('clearinghouse_deliveries',
    sa.Column('webhook_id', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('content_type', sa.Text(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('webhook_id')
    )
    op.create_table('submissions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('claim_type', sa.Text(), nullable=False),
    sa.Column('interchange_control_number', sa.BigInteger(), nullable=False),
    sa.Column('group_control_number', sa.BigInteger(), nullable=False),
    sa.Column('raw_x12', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('clearinghouse_batch_id', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('interchange_control_number')
    )
    op.create_table('claim_submissions',
    sa.Column('submission_id', sa.Uuid(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('transaction_set_control_number', sa.Integer(), nullable=False),
    sa.Column('frequency_code', sa.String(length=1), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], ),
    sa.PrimaryKeyConstraint('submission_id', 'claim_id')
    )
    op.create_index('ix_claim_submissions_claim', 'claim_submissions', ['claim_id', 'version'], unique=False)
    op.create_table('scrub_results',
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('rule_set_version', sa.Text(), nullable=False),
    sa.Column('blocked', sa.Boolean(), nullable=False),
    sa.Column('hits', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('scrubbed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('claim_id', 'version')
    )
    op.add_column('claims', sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.add_column('claims', sa.Column('claim_type', sa.Text(), server_default='professional', nullable=False))
    op.add_column('claims', sa.Column('payer_claim_control_number', sa.Text(), nullable=True))
    op.add_column('claims', sa.Column('filing_deadline', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('claims', 'filing_deadline')
    op.drop_column('claims', 'payer_claim_control_number')
    op.drop_column('claims', 'claim_type')
    op.drop_column('claims', 'version')
    op.drop_table('scrub_results')
    op.drop_index('ix_claim_submissions_claim', table_name='claim_submissions')
    op.drop_table('claim_submissions')
    op.drop_table('submissions')
    op.drop_table('clearinghouse_deliveries')
    for sequence in CONTROL_NUMBER_SEQUENCES:
        op.execute(f"DROP SEQUENCE {sequence}")
