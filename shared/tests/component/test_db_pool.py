"""The engine's pool replaces connections the server has dropped, without pinging busy ones.

`create_engine` no longer pre-pings every checkout (three statements per transaction); these
tests hold it to what the pre-ping gave: a connection broken while pooled is never handed out,
one broken while in use fails only its own transaction, including a transaction that ran
statements on the raw asyncpg connection (the claims intake's driver statements).
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import sqlalchemy as sa

from openrcm_shared.db import create_engine

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def database_url(infra):
    return infra.scratch_database("openrcm_pool", migrations_of="collections")


async def backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar()


async def terminate(database_url: str, pid: int) -> None:
    """What a PostgreSQL restart does to each connection: FATAL, then the socket is closed."""
    killer = create_engine(database_url, pool_size=1)
    try:
        async with killer.connect() as conn:
            assert (await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar()
    finally:
        await killer.dispose()
    await asyncio.sleep(0.2)  # the event loop reads the FATAL and the close


def count_pings(engine, monkeypatch) -> list[int]:
    pings: list[int] = []
    original = type(engine.dialect).do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return original(engine.dialect, dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


async def test_a_connection_dropped_while_pooled_is_replaced_before_use(database_url):
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        first = await backend_pid(engine)
        await terminate(database_url, first)
        second = await backend_pid(engine)  # no error: the dead connection was never handed out
        assert second != first
    finally:
        await engine.dispose()


async def test_a_busy_pool_is_not_pinged(database_url, monkeypatch):
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        pings = count_pings(engine, monkeypatch)
        pids = {await backend_pid(engine) for _ in range(20)}
        assert len(pids) == 1 and pings == []
    finally:
        await engine.dispose()


async def test_an_idle_connection_is_pinged_and_replaced_when_the_ping_fails(database_url, monkeypatch):
    # A peer that vanished without closing the socket: asyncpg still believes the connection
    # open, so only the ping of an idle connection can tell.
    engine = create_engine(database_url, pool_size=1, max_overflow=0, idle_ping_after=0.05)
    try:
        pings = count_pings(engine, monkeypatch)
        first = await backend_pid(engine)
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
        really_closed = type(raw).is_closed  # asyncpg's Connection has slots: patch the class, for this one
        monkeypatch.setattr(type(raw), "is_closed", lambda self: False if self is raw else really_closed(self))
        await terminate(database_url, first)
        second = await backend_pid(engine)
        assert second != first and len(pings) == 1
    finally:
        await engine.dispose()


async def test_a_connection_dropped_under_a_driver_statement_fails_that_transaction_only(database_url):
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        first = await backend_pid(engine)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, sa.exc.DBAPIError)):
            async with engine.begin() as conn:
                await conn.execute(sa.text("SELECT 1"))  # begins the transaction, as the intake does
                raw = (await conn.get_raw_connection()).driver_connection
                await terminate(database_url, first)
                await raw.fetch("SELECT 1")  # a driver statement on the dead connection
        second = await backend_pid(engine)
        assert second != first
    finally:
        await engine.dispose()


async def test_a_snapshot_reads_every_statement_as_of_its_start(database_url):
    """db.snapshot: a view read with several statements (a claim and its timeline) cannot mix what
    was committed before and after another transaction's commit, as READ COMMITTED statements can."""
    from openrcm_shared.db import snapshot

    engine = create_engine(database_url, pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS snapshot_probe (n int)"))
            await conn.execute(sa.text("DELETE FROM snapshot_probe"))
            await conn.execute(sa.text("INSERT INTO snapshot_probe VALUES (1)"))
        async with snapshot(engine) as view:
            first = (await view.execute(sa.text("SELECT count(*) FROM snapshot_probe"))).scalar()
            async with engine.begin() as writer:  # another transaction commits in between
                await writer.execute(sa.text("INSERT INTO snapshot_probe VALUES (2)"))
            second = (await view.execute(sa.text("SELECT count(*) FROM snapshot_probe"))).scalar()
        async with engine.connect() as conn:  # READ COMMITTED, as before: sees the new row
            after = (await conn.execute(sa.text("SELECT count(*) FROM snapshot_probe"))).scalar()
        assert (first, second, after) == (1, 1, 2)
    finally:
        await engine.dispose()
