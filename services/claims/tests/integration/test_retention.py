"""Retention of the clearinghouse's deliveries (issue 14.8), on a real PostgreSQL: applied ones
go after their retention; one not yet applied is never pruned, however old."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from openrcm_claims.adapters.retention import CLEARINGHOUSE_DELIVERIES
from openrcm_claims.adapters.tables import clearinghouse_deliveries
from openrcm_shared.retention import RetentionPruner, RetentionSettings
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_claims_retention", migrations_of="claims", pool_size=2)


async def test_deliveries_applied_long_ago_are_pruned_and_ones_not_yet_applied_never(engine):
    now = datetime.now(timezone.utc)
    deliveries = {  # webhook id -> (status, received)
        f"old-processed-{uuid.uuid4().hex[:6]}": ("processed", now - timedelta(days=91)),
        f"old-failed-{uuid.uuid4().hex[:6]}": ("failed", now - timedelta(days=200)),
        f"old-received-{uuid.uuid4().hex[:6]}": ("received", now - timedelta(days=200)),
        f"recent-processed-{uuid.uuid4().hex[:6]}": ("processed", now - timedelta(days=89)),
    }
    async with engine.begin() as conn:
        await conn.execute(clearinghouse_deliveries.insert(), [
            {"webhook_id": webhook_id, "received_at": received, "body": b"ISA*...", "status": status,
             "processed_at": received if status != "received" else None}
            for webhook_id, (status, received) in deliveries.items()])

    pruner = RetentionPruner(engine, [CLEARINGHOUSE_DELIVERIES], service_name="claims-retention-test",
                             settings=RetentionSettings(batch_rows=1, pause_seconds=0),
                             days={"clearinghouse_deliveries": 90})
    assert await pruner.prune_if_leader() == {"clearinghouse_deliveries": 2}

    async with engine.connect() as conn:
        left = sorted((await conn.execute(sa.select(clearinghouse_deliveries.c.webhook_id).where(
            clearinghouse_deliveries.c.webhook_id.in_(list(deliveries))))).scalars())
    assert [webhook_id.rsplit("-", 1)[0] for webhook_id in left] == ["old-received", "recent-processed"]
