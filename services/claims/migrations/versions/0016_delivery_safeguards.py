"""delivery safeguards (openrcm_shared.messaging.migrations v3): parked_events, outbox_set_aside,
indexes by age on the inbox and the idempotency keys; and the clearinghouse deliveries already
applied (processed, or failed as malformed) by age, which retention prunes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from openrcm_shared.messaging.migrations import (
    add_delivery_safeguards_v3, drop_delivery_safeguards_v3, grant_delivery_safeguards_v1, revoke_delivery_safeguards_v1,
)


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

SERVICE = "claims"
# The system role's retention pruner deletes applied deliveries (openrcm_claims.adapters.retention).
RETENTION_DELETES = ("clearinghouse_deliveries",)

SETTLED = sa.text("status IN ('processed', 'failed')")


def upgrade() -> None:
    add_delivery_safeguards_v3(op)
    grant_delivery_safeguards_v1(op, SERVICE, retention_deletes=RETENTION_DELETES)
    op.create_index("ix_clearinghouse_deliveries_settled", "clearinghouse_deliveries", ["received_at"],
                    postgresql_where=SETTLED)


def downgrade() -> None:
    op.drop_index("ix_clearinghouse_deliveries_settled", table_name="clearinghouse_deliveries",
                  postgresql_where=SETTLED)
    revoke_delivery_safeguards_v1(op, SERVICE, retention_deletes=RETENTION_DELETES)
    drop_delivery_safeguards_v3(op)
