"""unmatched claims waiting for their billed claim: the open claim-level review items by patient
control number, which the remittance worker joins to the billed claims it learns of

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 18:00:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OPEN_CLAIMS = sa.text("status = 'open' AND kind = 'claim'")


def upgrade() -> None:
    op.create_index("ix_unmatched_items_open_claims", "unmatched_items", ["patient_control_number"],
                    postgresql_where=OPEN_CLAIMS)


def downgrade() -> None:
    op.drop_index("ix_unmatched_items_open_claims", table_name="unmatched_items", postgresql_where=OPEN_CLAIMS)
