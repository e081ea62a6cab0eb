"""The audit trail on PostgreSQL: the table refuses changes, the chainer seals entries into one
chain per practice without forking it, verification finds tampering, and retention prunes while
keeping the chain verifiable. A scratch database migrated with the collections service's scripts
(every service's audit_log comes from the same shared migration)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from openrcm_shared.audit.chainer import AuditChainer
from openrcm_shared.audit.recording import AuditWriter
from openrcm_shared.audit.tables import audit_chain_heads, audit_log
from openrcm_shared.audit.verification import verify_database
from tests.support import eventually, scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_audit", migrations_of="collections", pool_size=6)


def entry(tenant_id: str, *, resource_id: str = "claim-1", age: timedelta = timedelta(0)) -> dict:
    return dict(tenant_id=tenant_id, occurred_at=datetime.now(timezone.utc) - age, actor="user-7",
                client_id="portal", action="read", route="GET /v1/claims/{claim_id}", resource_type="claim",
                resource_id=resource_id, patient_id="P-1", outcome="200", purpose="TREAT")


async def insert(engine, rows: list[dict]) -> list[int]:
    async with engine.begin() as conn:
        return list((await conn.execute(audit_log.insert().returning(audit_log.c.id), rows)).scalars())


@pytest.fixture
def practices() -> tuple[str, str]:
    return f"practice-{uuid.uuid4().hex[:8]}", f"practice-{uuid.uuid4().hex[:8]}"


def chainer(engine, retention_days: int = 2190) -> AuditChainer:
    return AuditChainer(engine, service_name="component", retention_days=retention_days, interval=0.05)


async def report_of(engine, tenant_id: str):
    return next(r for r in await verify_database(engine) if r.tenant_id == tenant_id)


async def tamper(engine, statement: str, params: dict) -> None:
    """What someone with the database's admin rights can do: switch the triggers off and edit."""
    async with engine.begin() as conn:
        await conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        await conn.execute(sa.text(statement), params)


async def test_entries_of_concurrent_writers_are_sealed_into_one_chain_per_practice(engine, practices):
    first, second = practices
    writer = AuditWriter(engine)
    await asyncio.gather(*(writer.write(entry(first if n % 3 else second, resource_id=f"claim-{n}"))
                           for n in range(60)))
    assert (await chainer(engine).chain_once()) >= 60
    for tenant_id, count in ((first, 40), (second, 20)):
        report = await report_of(engine, tenant_id)
        assert report.intact and (report.verified, report.unchained) == (count, 0)
    async with engine.connect() as conn:
        positions = (await conn.execute(sa.select(audit_log.c.chain_seq).where(audit_log.c.tenant_id == second)
                                        .order_by(audit_log.c.chain_seq))).scalars().all()
        head = (await conn.execute(sa.select(audit_chain_heads).where(
            audit_chain_heads.c.tenant_id == second))).one()
    assert positions == list(range(1, 21)) and head.last_seq == 20


async def test_the_running_chainer_seals_new_entries_within_a_second(engine, practices):
    running = chainer(engine)
    task = asyncio.create_task(running.run())
    try:
        await insert(engine, [entry(practices[0]) for _ in range(3)])

        async def sealed():
            report = await report_of(engine, practices[0])
            assert report.unchained == 0 and report.verified == 3
            return report
        await eventually(sealed, timeout=2)
        assert running.holds_lock
        standby = chainer(engine)  # a second replica stands by: the lock is taken
        standby_task = asyncio.create_task(standby.run())
        await asyncio.sleep(0.3)
        assert not standby.holds_lock
        standby_task.cancel()
        await asyncio.gather(standby_task, return_exceptions=True)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_two_chainers_racing_never_fork_a_chain(engine, practices):
    await insert(engine, [entry(practices[0], resource_id=f"claim-{n}") for n in range(200)])
    outcomes = await asyncio.gather(chainer(engine).chain_once(), chainer(engine).chain_once(),
                                    return_exceptions=True)
    # One sealed them; the other found them sealed (nothing left) or was refused and rolled back.
    assert any(outcome == 200 for outcome in outcomes), outcomes
    report = await report_of(engine, practices[0])
    assert report.intact and report.verified == 200


async def test_the_table_refuses_changes_and_deletions_and_a_second_seal(engine, practices):
    [entry_id] = await insert(engine, [entry(practices[0])])
    attempts = [("UPDATE audit_log SET patient_id = 'P-2' WHERE id = :id", {"id": entry_id}),
                ("DELETE FROM audit_log WHERE id = :id", {"id": entry_id}),
                ("TRUNCATE audit_log", {})]
    await chainer(engine).chain_once()
    attempts.append(("UPDATE audit_log SET chain_seq = 7, prev_hash = hash WHERE id = :id", {"id": entry_id}))
    for statement, params in attempts:
        with pytest.raises(sa_exc.DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(sa.text(statement), params)
    assert (await report_of(engine, practices[0])).intact


async def test_verification_names_the_entry_that_was_edited_deleted_or_moved(engine, practices):
    tenant_id = practices[0]
    ids = await insert(engine, [entry(tenant_id, resource_id=f"claim-{n}") for n in range(5)])
    await chainer(engine).chain_once()
    assert (await report_of(engine, tenant_id)).intact

    await tamper(engine, "UPDATE audit_log SET patient_id = 'P-2' WHERE id = :id", {"id": ids[2]})
    broken = (await report_of(engine, tenant_id)).first_break
    assert (broken.entry_id, broken.seq) == (ids[2], 3) and "content" in broken.problem
    await tamper(engine, "UPDATE audit_log SET patient_id = 'P-1' WHERE id = :id", {"id": ids[2]})
    assert (await report_of(engine, tenant_id)).intact  # put back exactly: the chain holds again

    await tamper(engine, "UPDATE audit_log SET chain_seq = -chain_seq WHERE id IN (:a, :b)",
                 {"a": ids[1], "b": ids[3]})
    await tamper(engine, "UPDATE audit_log SET chain_seq = 4 WHERE id = :id", {"id": ids[1]})
    await tamper(engine, "UPDATE audit_log SET chain_seq = 2 WHERE id = :id", {"id": ids[3]})
    broken = (await report_of(engine, tenant_id)).first_break
    assert broken.entry_id == ids[3] and "prev_hash" in broken.problem

    await tamper(engine, "DELETE FROM audit_log WHERE id = :id", {"id": ids[0]})
    broken = (await report_of(engine, tenant_id)).first_break
    assert broken.entry_id == ids[3] and broken.expected == "position 1"


async def test_retention_prunes_old_entries_and_the_rest_still_verifies_from_the_anchor(engine, practices):
    tenant_id = practices[0]
    old = await insert(engine, [entry(tenant_id, resource_id=f"old-{n}", age=timedelta(days=10)) for n in range(4)])
    recent = await insert(engine, [entry(tenant_id, resource_id=f"new-{n}") for n in range(3)])
    keeper = chainer(engine, retention_days=5)
    await keeper.chain_once()
    async with engine.connect() as conn:
        last_old_hash = (await conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.id == old[-1]))).scalar()

    assert await keeper.prune(chunk=3) == 4  # in two transactions of at most three entries
    async with engine.connect() as conn:
        left = (await conn.execute(sa.select(audit_log.c.id).where(audit_log.c.tenant_id == tenant_id)
                                   .order_by(audit_log.c.id))).scalars().all()
        head = (await conn.execute(sa.select(audit_chain_heads).where(
            audit_chain_heads.c.tenant_id == tenant_id))).one()
    assert left == recent
    assert (head.anchor_seq, head.anchor_hash, head.pruned_count, head.last_seq) == (4, last_old_hash, 4, 7)
    report = await report_of(engine, tenant_id)
    assert report.intact and report.verified == 3 and report.anchor.seq == 4
    assert await keeper.prune() == 0  # nothing older is left

    # The retention path deletes nothing newer than the retention period, whoever asks.
    with pytest.raises(sa_exc.DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(sa.text("SELECT set_config('openrcm.audit_retention_days', '5', true)"))
            await conn.execute(audit_log.delete().where(audit_log.c.id == recent[0]))


async def test_an_older_entry_sealed_after_a_newer_one_waits_for_it(engine, practices):
    tenant_id = practices[0]
    await insert(engine, [entry(tenant_id, resource_id="old-1", age=timedelta(days=10))])
    await insert(engine, [entry(tenant_id, resource_id="new-1")])
    await insert(engine, [entry(tenant_id, resource_id="old-2", age=timedelta(days=10))])
    keeper = chainer(engine, retention_days=5)
    await keeper.chain_once()
    assert await keeper.prune() == 1  # old-2 sits after new-1 in the chain: it stays until new-1 goes
    assert (await report_of(engine, tenant_id)).intact


async def test_entries_written_without_waiting_are_bounded_while_the_database_is_slow(engine, practices):
    from prometheus_client import REGISTRY

    def lost() -> float:
        return REGISTRY.get_sample_value("openrcm_audit_entries_lost_total", {"reason": "backlog_full"}) or 0

    writer = AuditWriter(engine, max_backlog=5)
    before = lost()
    for n in range(8):  # all arrive before the writer runs once
        writer.submit(entry(practices[0], resource_id=f"refused-{n}"))
    assert lost() - before == 3

    async def written():
        async with engine.connect() as conn:
            ids = (await conn.execute(sa.select(audit_log.c.resource_id).where(
                audit_log.c.tenant_id == practices[0]).order_by(audit_log.c.id))).scalars().all()
        assert ids == [f"refused-{n}" for n in range(5)]
        return True
    await eventually(written, timeout=5)


async def test_the_writer_keeps_its_connection_between_entries_and_recovers_when_it_breaks(engine, practices):
    tenant_id = practices[0]
    writer = AuditWriter(engine, linger=5)
    await writer.write(entry(tenant_id, resource_id="first"))
    await writer.write(entry(tenant_id, resource_id="second"))
    async with engine.connect() as conn:  # what a PostgreSQL restart does to the writer's connection
        killed = (await conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))).scalar()
    assert killed >= 1
    await asyncio.sleep(0.2)
    try:
        await writer.write(entry(tenant_id, resource_id="while-broken"))
    except Exception:
        pass  # this one's caller is told (a read would be withheld); the writer gives the connection up
    await writer.write(entry(tenant_id, resource_id="after"))  # a new writer, a new connection
    async with engine.connect() as conn:
        ids = (await conn.execute(sa.select(audit_log.c.resource_id).where(
            audit_log.c.tenant_id == tenant_id).order_by(audit_log.c.id))).scalars().all()
    assert ids[:2] == ["first", "second"] and ids[-1] == "after"
