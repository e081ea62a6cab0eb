"""Every transaction of an engine acts for the practice bound to its task (openrcm_shared.db):
the BEGIN carries `SET LOCAL app.tenant_id`, whichever way the transaction begins, and the
setting never outlives its transaction on a pooled connection."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from openrcm_shared.db import begin_for_practice, bind_practice, create_engine, driver_connection, snapshot
from openrcm_shared.security.context import acting_for, bind_tenant

pytestmark = pytest.mark.stack

SETTING = sa.text("SELECT NULLIF(current_setting('app.tenant_id', true), '')")


@pytest.fixture(scope="module")
def database_url(infra):
    return infra.scratch_database("openrcm_practice_binding", migrations_of="collections")


@pytest.fixture
async def engine(database_url):
    # One connection: every transaction below runs on the connection the one before it used.
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def test_each_way_of_beginning_a_transaction_binds_the_tasks_practice(engine):
    with acting_for("practice-begin"):
        async with engine.begin() as conn:
            assert (await conn.execute(SETTING)).scalar() == "practice-begin"
    with acting_for("practice-autobegin"):
        async with engine.connect() as conn:  # SQLAlchemy begins before the first statement
            assert (await conn.execute(SETTING)).scalar() == "practice-autobegin"
    with acting_for("practice-snapshot"):
        async with snapshot(engine) as conn:  # BEGIN ISOLATION LEVEL REPEATABLE READ
            assert (await conn.execute(SETTING)).scalar() == "practice-snapshot"
    with acting_for("practice-driver"):
        async with engine.begin() as conn:  # the first statement on the driver: BEGIN sent by driver_connection
            assert await (await driver_connection(conn)).fetchval(SETTING.text) == "practice-driver"


async def test_the_practice_does_not_outlive_its_transaction_on_the_pooled_connection(engine):
    async with engine.connect() as conn:
        pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar()
    with acting_for("practice-before"):
        async with engine.begin() as conn:
            assert (await conn.execute(SETTING)).scalar() == "practice-before"
    with pytest.raises(RuntimeError):
        with acting_for("practice-rolled-back"):
            async with engine.begin() as conn:
                assert (await conn.execute(SETTING)).scalar() == "practice-rolled-back"
                raise RuntimeError("rolled back")
    async with engine.begin() as conn:  # no practice bound: none, on the same backend
        assert (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar() == pid
        assert (await conn.execute(SETTING)).scalar() is None


async def test_a_practice_is_bound_exactly_whatever_its_characters(engine):
    # An event's ce_tenantid is anyone's text: quotes and backslashes must not end the literal.
    for tenant in ("it's", "back\\slash", "\\'; SET LOCAL app.tenant_id = 'other", "prakse-ø-診療所"):
        with acting_for(tenant):
            async with engine.begin() as conn:
                assert (await conn.execute(SETTING)).scalar() == tenant


async def test_a_practice_postgresql_cannot_hold_is_refused_before_anything_is_sent(engine):
    with pytest.raises(ValueError, match="NUL"):
        with acting_for("bad\x00practice"):
            async with engine.begin() as conn:
                await conn.execute(SETTING)
    async with engine.begin() as conn:  # the pooled connection is still in order
        assert (await conn.execute(SETTING)).scalar() is None


async def test_a_transaction_can_switch_to_another_practice(engine):
    with acting_for("practice-first"):
        async with engine.begin() as conn:
            await bind_practice(conn, "practice-second")
            assert (await conn.execute(SETTING)).scalar() == "practice-second"
            await bind_practice(conn, None)
            assert (await conn.execute(SETTING)).scalar() is None


async def test_concurrent_tasks_each_act_for_their_own_practice(database_url):
    engine = create_engine(database_url, pool_size=4)
    try:
        async def read_as(tenant: str) -> list[str | None]:
            bind_tenant(tenant)  # this task's only: context variables are per task
            seen = []
            for _ in range(5):
                async with engine.begin() as conn:
                    seen.append((await conn.execute(SETTING)).scalar())
                await asyncio.sleep(0)
            return seen
        results = await asyncio.gather(*(read_as(f"practice-{n}") for n in range(8)))
    finally:
        await engine.dispose()
    assert results == [[f"practice-{n}"] * 5 for n in range(8)]


def test_the_begin_carries_the_setting_in_the_same_message():
    with acting_for("it's"):
        assert begin_for_practice("BEGIN ISOLATION LEVEL REPEATABLE READ;") == (
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL app.tenant_id = E'it\\'s';")
    assert begin_for_practice("BEGIN;") == "BEGIN;"  # no practice bound: BEGIN alone
