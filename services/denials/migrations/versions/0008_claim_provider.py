"""claim_facts.rendering_provider_npi: the provider a claim belongs to (ClaimSubmitted's rendering NPI,
else its billing NPI) for the denial summary by provider

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("claim_facts", sa.Column("rendering_provider_npi", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("claim_facts", "rendering_provider_npi")
