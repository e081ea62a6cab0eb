"""outbox rows deleted by the relay once the broker has them (openrcm_shared.messaging.relay):
rows already published go, with `published_at` and the partial index on unpublished rows

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:30:00.000000
"""
from alembic import op

from openrcm_shared.messaging.migrations import delete_outbox_rows_when_published_v2, keep_published_outbox_rows_v1


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    delete_outbox_rows_when_published_v2(op)


def downgrade() -> None:
    keep_published_outbox_rows_v1(op)
