"""reference data (patients, coverages, providers, facilities); one claim per payer and part;
institutional lines

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('patients',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('patient_id', sa.Text(), nullable=False),
    sa.Column('first_name', sa.Text(), nullable=False),
    sa.Column('last_name', sa.Text(), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=False),
    sa.Column('address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'patient_id')
    )
    op.create_table('coverages',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('patient_id', sa.Text(), nullable=False),
    sa.Column('coverage_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('member_id', sa.Text(), nullable=False),
    sa.Column('group_number', sa.Text(), nullable=True),
    sa.Column('claim_filing_indicator', sa.String(length=2), nullable=False),
    sa.Column('relationship_to_subscriber', sa.String(length=2), nullable=False),
    sa.Column('subscriber', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('order_of_benefits', sa.SmallInteger(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'patient_id'], ['patients.tenant_id', 'patients.patient_id'],
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'patient_id', 'coverage_id')
    )
    op.create_table('providers',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('npi', sa.String(length=10), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('first_name', sa.Text(), nullable=True),
    sa.Column('last_name', sa.Text(), nullable=True),
    sa.Column('tax_id', sa.String(length=9), nullable=True),
    sa.Column('taxonomy_code', sa.String(length=10), nullable=True),
    sa.Column('address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('roles', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'npi')
    )
    op.create_table('service_facilities',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('facility_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('npi', sa.String(length=10), nullable=True),
    sa.Column('address', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'facility_id')
    )
    op.add_column('claims', sa.Column('payer_responsibility', sa.String(length=1), server_default='P', nullable=False))
    op.add_column('claims', sa.Column('split_part', sa.Integer(), server_default='1', nullable=False))
    op.add_column('claims', sa.Column('prior_claim_id', sa.Uuid(), nullable=True))
    op.add_column('claims', sa.Column('prior_payer_adjudications', postgresql.JSONB(astext_type=sa.Text()),
                                      server_default=sa.text("'[]'::jsonb"), nullable=False))
    op.create_foreign_key('claims_prior_claim_id_fkey', 'claims', 'claims', ['prior_claim_id'], ['id'])
    op.drop_constraint('uq_claims_tenant_encounter', 'claims', type_='unique')
    op.create_unique_constraint('uq_claims_tenant_encounter_payer_part', 'claims',
                                ['tenant_id', 'encounter_id', 'payer_responsibility', 'split_part'])
    op.alter_column('claim_lines', 'procedure_code', existing_type=sa.String(length=5), nullable=True)
    op.add_column('claim_lines', sa.Column('revenue_code', sa.String(length=4), nullable=True))
    op.add_column('claim_lines', sa.Column('unit_basis', sa.String(length=2), nullable=True))
    op.add_column('claim_lines', sa.Column('service_date_to', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('claim_lines', 'service_date_to')
    op.drop_column('claim_lines', 'unit_basis')
    op.drop_column('claim_lines', 'revenue_code')
    op.execute("DELETE FROM claim_lines WHERE procedure_code IS NULL")
    op.alter_column('claim_lines', 'procedure_code', existing_type=sa.String(length=5), nullable=False)
    op.drop_constraint('uq_claims_tenant_encounter_payer_part', 'claims', type_='unique')
    # Secondary claims and split parts cannot survive the old one-claim-per-encounter rule.
    op.execute("DELETE FROM claims WHERE payer_responsibility <> 'P' OR split_part <> 1")
    op.create_unique_constraint('uq_claims_tenant_encounter', 'claims', ['tenant_id', 'encounter_id'])
    op.drop_constraint('claims_prior_claim_id_fkey', 'claims', type_='foreignkey')
    op.drop_column('claims', 'prior_payer_adjudications')
    op.drop_column('claims', 'prior_claim_id')
    op.drop_column('claims', 'split_part')
    op.drop_column('claims', 'payer_responsibility')
    op.drop_table('service_facilities')
    op.drop_table('providers')
    op.drop_table('coverages')
    op.drop_table('patients')
