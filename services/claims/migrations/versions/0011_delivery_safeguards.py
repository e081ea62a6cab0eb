"""delivery safeguards (openrcm_shared.messaging.migrations v3): parked_events, outbox_set_aside,
indexes by age on the inbox and the idempotency keys; and the clearinghouse deliveries already
applied (processed, or failed as malformed) by age, which retention prunes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 22:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from openrcm_shared.messaging.migrations import add_delivery_safeguards_v3, drop_delivery_safeguards_v3


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

SETTLED = sa.text("status IN ('processed', 'failed')")


def upgrade() -> None:
    add_delivery_safeguards_v3(op)
    op.create_index("ix_clearinghouse_deliveries_settled", "clearinghouse_deliveries", ["received_at"],
                    postgresql_where=SETTLED)


def downgrade() -> None:
    op.drop_index("ix_clearinghouse_deliveries_settled", table_name="clearinghouse_deliveries",
                  postgresql_where=SETTLED)
    drop_delivery_safeguards_v3(op)
