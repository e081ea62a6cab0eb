"""delivery safeguards (openrcm_shared.messaging.migrations v3): parked_events, outbox_set_aside,
indexes by age on the inbox and the idempotency keys; and for retention of stored 835 files:
`content_pruned_at` (the bytes were deleted, the row stays as the receipt), the finished files
whose bytes are still kept by age, and the held remittances by file (their files are kept)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from openrcm_shared.messaging.migrations import (
    add_delivery_safeguards_v3, drop_delivery_safeguards_v3, grant_delivery_safeguards_v1, revoke_delivery_safeguards_v1,
)


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

SERVICE = "remittance"

PRUNABLE = sa.text("content_pruned_at IS NULL AND status IN ('processed', 'rejected')")
HELD = sa.text("status = 'held'")


def upgrade() -> None:
    add_delivery_safeguards_v3(op)
    grant_delivery_safeguards_v1(op, SERVICE)
    op.add_column("remittance_files", sa.Column("content_pruned_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_remittance_files_prunable", "remittance_files", ["received_at"], postgresql_where=PRUNABLE)
    op.create_index("ix_remittances_held_file", "remittances", ["file_id"], postgresql_where=HELD)


def downgrade() -> None:
    op.drop_index("ix_remittances_held_file", table_name="remittances", postgresql_where=HELD)
    op.drop_index("ix_remittance_files_prunable", table_name="remittance_files", postgresql_where=PRUNABLE)
    op.drop_column("remittance_files", "content_pruned_at")
    revoke_delivery_safeguards_v1(op, SERVICE)
    drop_delivery_safeguards_v3(op)
