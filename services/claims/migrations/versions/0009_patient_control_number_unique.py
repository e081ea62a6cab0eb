"""patient control numbers unique across practices: a 277CA names a claim by CLM01 alone and the
acknowledgements look claims up by it without a tenant; one unique index replaces the
(tenant_id, patient_control_number) unique key and the plain index beside it (one index fewer to
maintain on every claim-row write). Fails if two practices share a number (none can: CLM01 is
'R' + 16 random base32 characters, see domain/identifiers.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 05:20:00.000000
"""
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_unique_constraint('uq_claims_pcn', 'claims', ['patient_control_number'])
    op.drop_constraint('uq_claims_tenant_pcn', 'claims', type_='unique')
    op.drop_index('ix_claims_patient_control_number', table_name='claims')


def downgrade() -> None:
    op.create_index('ix_claims_patient_control_number', 'claims', ['patient_control_number'])
    op.create_unique_constraint('uq_claims_tenant_pcn', 'claims', ['tenant_id', 'patient_control_number'])
    op.drop_constraint('uq_claims_pcn', 'claims', type_='unique')
