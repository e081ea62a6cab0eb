"""delivery safeguards (openrcm_shared.messaging.migrations v3): parked_events, where a key's
events wait behind one that failed for good; outbox_set_aside, for rows the broker cannot take;
indexes by age on the inbox and the idempotency keys, which retention prunes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 22:00:00.000000
"""
from alembic import op

from openrcm_shared.messaging.migrations import add_delivery_safeguards_v3, drop_delivery_safeguards_v3


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_delivery_safeguards_v3(op)


def downgrade() -> None:
    drop_delivery_safeguards_v3(op)
