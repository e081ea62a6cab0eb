"""the stored encounter and prior payers' adjudications of a claim, its timeline entries' details and
its scrub hits: no planner statistics (JSONB that no query compares; ANALYZE's sort of it was the
costliest part of analysing these tables: openrcm_shared.column_statistics)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 23:30:00.000000
"""
from alembic import op

from openrcm_shared.column_statistics import with_default_statistics, without_statistics

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

PAYLOAD_COLUMNS = {"claims": ("encounter_document", "prior_payer_adjudications"), "claim_history": ("detail",),
                   "scrub_results": ("hits",)}


def upgrade() -> None:
    without_statistics(op, PAYLOAD_COLUMNS)


def downgrade() -> None:
    with_default_statistics(op, PAYLOAD_COLUMNS)
