"""delivery safeguards (openrcm_shared.messaging.migrations v3): parked_events, where a key's
events wait behind one that failed for good; outbox_set_aside, for rows the broker cannot take;
indexes by age on the inbox and the idempotency keys, which retention prunes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 22:00:00.000000
"""
from alembic import op

from openrcm_shared.messaging.migrations import (
    add_delivery_safeguards_v3, drop_delivery_safeguards_v3, grant_delivery_safeguards_v1, revoke_delivery_safeguards_v1,
)


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SERVICE = "eligibility"


def upgrade() -> None:
    add_delivery_safeguards_v3(op)
    grant_delivery_safeguards_v1(op, SERVICE)


def downgrade() -> None:
    revoke_delivery_safeguards_v1(op, SERVICE)
    drop_delivery_safeguards_v3(op)
