"""Database engines and migrations. Each service owns one PostgreSQL database.

Schemas change only through the service's Alembic migrations, run before the service starts
(`openrcm_shared.db.migrate`); nothing calls `create_all()` at start-up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import Pool

# A pooled connection idle for longer than this is pinged before it is handed out; one in
# steady use is not (see `guard_pool`).
IDLE_PING_AFTER_SECONDS = 5.0


def async_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and return the asyncpg form."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10,
                  idle_ping_after: float = IDLE_PING_AFTER_SECONDS) -> AsyncEngine:
    """A pooled engine that fails fast when PostgreSQL is away and recovers by itself.

    A connection broken by a server restart is replaced before it is handed out (`guard_pool`),
    and one that breaks while in use is invalidated by SQLAlchemy's disconnect handling with the
    whole pool behind it; the connect timeout and the pool timeout keep a request from hanging,
    so the API answers 503 quickly instead. Statement parameters are never part of an error's
    text (`hide_parameters`): they are patients' names, member ids and dates of birth, and errors
    are logged.
    """
    engine = create_async_engine(
        async_url(url),
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=5,
        pool_recycle=1800,
        connect_args={"timeout": 3, "command_timeout": 30, "server_settings": {"application_name": "openrcm"}},
    )
    guard_pool(engine.sync_engine.pool, engine.dialect, idle_ping_after=idle_ping_after)
    return engine


@contextlib.asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose statements all see one snapshot of the database (a REPEATABLE READ
    transaction), for a view read with several statements: under the default READ COMMITTED each
    statement sees what had committed when it began, so a claim's row and its timeline read one
    after the other could come from either side of a change committed in between."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            yield conn


def guard_pool(pool: Pool, dialect, *, idle_ping_after: float) -> None:
    """Check each connection as it leaves the pool, without a round trip for one in steady use.

    Why not `pool_pre_ping`: it costs three statements (`BEGIN; ;ROLLBACK`) and about 200 us of
    this process's CPU on every checkout, i.e. on every transaction of every service, for the
    rare connection a restart has broken. Instead:

    * a connection asyncpg already knows is closed (PostgreSQL sends a FATAL and closes the
      socket on a restart; asyncpg marks the connection closed as soon as the event loop reads
      that) is replaced, and every connection pooled before it is recycled too: free;
    * a connection idle for longer than `idle_ping_after` seconds is pinged first, which catches
      a peer that vanished without closing the socket; in a busy pool this never happens;
    * a connection that breaks while checked out fails that one transaction (a 503, which the
      client retries); SQLAlchemy's disconnect handling (`is_disconnect`: the asyncpg connection
      is closed) then invalidates it and the pool. Statements run on the raw asyncpg connection
      (the claims intake's driver statements) reach the same handling: their transaction is
      ended through SQLAlchemy, whose ROLLBACK on the closed connection is a disconnect, and a
      closed connection is caught here at its next checkout in any case.
    """

    @event.listens_for(pool, "checkin")
    def remember_idle_since(dbapi_connection, connection_record) -> None:
        connection_record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def check_alive(dbapi_connection, connection_record, connection_proxy) -> None:
        # Raising DisconnectionError makes the pool reconnect this record and try again (twice);
        # invalidate_pool=True also recycles the connections made before this one, which a
        # restart has broken as well.
        if dbapi_connection.driver_connection.is_closed():
            raise exc.InvalidatePoolError("the pooled connection was closed by the server")
        idle_since = connection_record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since > idle_ping_after:
            try:
                dialect.do_ping(dbapi_connection)
            except Exception as error:  # any failure of the ping means: do not hand this one out
                raise exc.InvalidatePoolError(f"ping of an idle pooled connection failed: {error!r}") from error


def migrate(url: str, migrations_dir: Path, revision: str = "head", direction: str = "upgrade") -> None:
    """Upgrade (or downgrade) a service database with its own Alembic scripts."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["database_url"] = async_url(url)
    (command.upgrade if direction == "upgrade" else command.downgrade)(config, revision)


def run_migrations_online(context, target_metadata) -> None:
    """Body of every service's migrations/env.py: migrate over asyncpg."""
    import asyncio
    import os

    from sqlalchemy.pool import NullPool

    url = context.config.attributes.get("database_url") or os.environ["DATABASE_URL"]

    def do_run(connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(async_url(url), poolclass=NullPool, hide_parameters=True)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())
