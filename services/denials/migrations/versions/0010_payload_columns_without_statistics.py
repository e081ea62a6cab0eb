"""a claim's lines and diagnoses in its facts, and its timeline entries' details: no planner statistics
(JSONB that no query compares; ANALYZE's sort of it was the costliest part of analysing these
tables: openrcm_shared.column_statistics)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:30:00.000000
"""
from alembic import op

from openrcm_shared.column_statistics import with_default_statistics, without_statistics

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PAYLOAD_COLUMNS = {"claim_facts": ("lines", "diagnosis_codes"), "claim_timeline": ("detail",)}


def upgrade() -> None:
    without_statistics(op, PAYLOAD_COLUMNS)


def downgrade() -> None:
    with_default_statistics(op, PAYLOAD_COLUMNS)
