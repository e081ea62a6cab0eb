"""Retention pruning of the tables every service keeps (issue 14.8), on a real PostgreSQL: rows
older than their retention go, in bounded batches, in one process per service; newer rows stay."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from openrcm_shared.messaging.tables import idempotency_keys, inbox
from openrcm_shared.retention import (
    IDEMPOTENCY_KEYS, INBOX, SHARED_RULES, RetentionPruner, RetentionRule, RetentionSettings, retention_days,
)
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_retention", migrations_of="collections", pool_size=3)

SETTINGS = RetentionSettings(batch_rows=100, pause_seconds=0)


def days_ago(days: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=days)


async def add_inbox_rows(engine, group: str, count: int, processed_at: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(inbox.insert(), [{"consumer_group": group, "event_id": uuid.uuid4(), "event_type": "test",
                                             "processed_at": processed_at} for _ in range(count)])


async def add_idempotency_keys(engine, tenant: str, keys: list[str], created_at: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(idempotency_keys.insert(), [{
            "tenant_id": tenant, "idempotency_key": key, "request_fingerprint": "-", "response_status": 201,
            "response_body": b"{}", "created_at": created_at} for key in keys])


async def inbox_rows(engine, group: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(inbox)
                                   .where(inbox.c.consumer_group == group))).scalar_one()


async def keys_of(engine, tenant: str) -> list[str]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(sa.select(idempotency_keys.c.idempotency_key)
                                           .where(idempotency_keys.c.tenant_id == tenant))).scalars())


def recording(rule: RetentionRule, batches: list[int]) -> RetentionRule:
    """The rule, remembering how many rows each of its batches deleted."""
    async def prune_batch(conn, cutoff, limit):
        deleted = await rule.prune_batch(conn, cutoff, limit)
        batches.append(deleted)
        return deleted
    return RetentionRule(rule.name, rule.default_days, prune_batch)


async def test_inbox_rows_and_idempotency_keys_past_their_retention_are_pruned_in_bounded_batches(engine):
    group, tenant = f"retention-{uuid.uuid4().hex[:8]}", f"retention-{uuid.uuid4().hex[:8]}"
    await add_inbox_rows(engine, group, 250, days_ago(40))  # past the 35 days
    await add_inbox_rows(engine, group, 5, days_ago(30))
    await add_idempotency_keys(engine, tenant, ["old-1", "old-2", "old-3"], days_ago(8))  # past the 7 days
    await add_idempotency_keys(engine, tenant, ["new-1", "new-2"], days_ago(6))
    pruned_before = REGISTRY.get_sample_value("openrcm_retention_pruned_rows_total",
                                              {"service": "component-retention", "table": "inbox"}) or 0
    batches: list[int] = []
    rules = [recording(INBOX, batches), IDEMPOTENCY_KEYS]
    pruner = RetentionPruner(engine, rules, service_name="component-retention", settings=SETTINGS,
                             days=retention_days(rules, {}))

    pruned = await pruner.prune_if_leader()

    assert await inbox_rows(engine, group) == 5
    assert await keys_of(engine, tenant) == ["new-1", "new-2"]
    assert pruned["inbox"] >= 250 and pruned["idempotency_keys"] >= 3
    assert max(batches) == 100 and batches[-1] < 100 and sum(batches) == pruned["inbox"]  # bounded batches
    assert REGISTRY.get_sample_value("openrcm_retention_pruned_rows_total",
                                     {"service": "component-retention", "table": "inbox"}) == pruned_before + sum(batches)


async def test_a_pass_runs_in_one_process_of_a_service_and_zero_days_keeps_rows(engine):
    group = f"retention-{uuid.uuid4().hex[:8]}"
    await add_inbox_rows(engine, group, 3, days_ago(400))
    pruner = RetentionPruner(engine, SHARED_RULES, service_name="component-retention-lead", settings=SETTINGS,
                             days=retention_days(SHARED_RULES, {"OPENRCM_RETENTION_INBOX_DAYS": "0"}))
    async with engine.connect() as other_process:
        assert (await other_process.execute(sa.select(sa.func.pg_try_advisory_lock(pruner.lock_id)))).scalar()
        await other_process.commit()
        assert await pruner.prune_if_leader() is None  # the other process prunes
        await other_process.execute(sa.select(sa.func.pg_advisory_unlock(pruner.lock_id)))
        await other_process.commit()
    pruned = await pruner.prune_if_leader()
    assert "inbox" not in pruned and "idempotency_keys" in pruned
    assert await inbox_rows(engine, group) == 3  # kept for ever


def test_a_retention_setting_that_cannot_work_is_refused():
    assert retention_days(SHARED_RULES, {}) == {"inbox": 35, "idempotency_keys": 7}
    assert retention_days(SHARED_RULES, {"OPENRCM_RETENTION_IDEMPOTENCY_KEYS_DAYS": "2"})["idempotency_keys"] == 2
    with pytest.raises(ValueError, match="OPENRCM_RETENTION_INBOX_DAYS must be a whole number"):
        retention_days(SHARED_RULES, {"OPENRCM_RETENTION_INBOX_DAYS": "two weeks"})
    with pytest.raises(ValueError, match="OPENRCM_RETENTION_INBOX_DAYS must be 0"):
        retention_days(SHARED_RULES, {"OPENRCM_RETENTION_INBOX_DAYS": "-1"})
