"""Database engines and migrations. Each service owns one PostgreSQL database.

Schemas change only through the service's Alembic migrations, run before the service starts
(`openrcm_shared.db.migrate`); nothing calls `create_all()` at start-up.

Every transaction of an engine made here acts for the practice bound to the task that begins it
(`security.context.current_tenant()`): its BEGIN sets PostgreSQL's `app.tenant_id`, which the
row-level security policies read (see `row_security`).
"""

from __future__ import annotations

import contextlib
import os
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import Pool

from openrcm_shared.row_security import TENANT_SETTING
from openrcm_shared.security.context import current_tenant

# A pooled connection idle for longer than this is pinged before it is handed out; one in
# steady use is not (see `guard_pool`).
IDLE_PING_AFTER_SECONDS = 5.0


def async_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and return the asyncpg form."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


# libpq's TLS parameters, as a PostgreSQL URL carries them (libpq-connect.html, "sslmode" and
# after). asyncpg reads them only from a DSN string, while SQLAlchemy's asyncpg dialect passes
# every URL query parameter to asyncpg.connect() as a keyword, which refuses these; so they are
# turned into the `ssl` argument asyncpg does take (`use_libpq_tls`).
LIBPQ_TLS_PARAMETERS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def tls_connect_argument(url: str | URL) -> ssl.SSLContext | str | bool | None:
    """asyncpg's `ssl` argument for the libpq TLS parameters of `url`; None when it has none.

    As libpq: `disable` is no TLS; `allow` and `prefer` try without or with TLS and verify
    nothing (asyncpg does these itself); `require` encrypts without checking the certificate,
    unless `sslrootcert` names a CA, when it checks the chain as `verify-ca` does; `verify-ca`
    checks the chain; `verify-full` checks the chain and that the certificate is for the host
    dialled. The CA is `sslrootcert` (`system`: the system's CAs), else `PGSSLROOTCERT`, else
    the system's CAs. `sslcert`/`sslkey` (with `sslpassword`) present a client certificate.
    Files are read here, so a missing one fails at start-up, not at the first connection.
    """
    query = make_url(url).query if isinstance(url, str) else url.query
    if not any(name in query for name in LIBPQ_TLS_PARAMETERS):
        return None
    mode = query.get("sslmode", "prefer")
    if mode not in SSL_MODES:
        raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}, not {mode!r}")
    if mode == "disable":
        return False
    if mode in ("allow", "prefer"):
        return mode
    root = query.get("sslrootcert") or os.environ.get("PGSSLROOTCERT") or "system"
    context = ssl.create_default_context(cafile=None if root == "system" else root)
    if mode == "require" and not (query.get("sslrootcert") or os.environ.get("PGSSLROOTCERT")):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = mode == "verify-full"
    if query.get("sslcert"):
        context.load_cert_chain(query["sslcert"], query.get("sslkey"), password=query.get("sslpassword"))
    return context


def use_libpq_tls(engine: AsyncEngine) -> None:
    """Connect `engine` with the TLS its URL's libpq parameters ask for (`tls_connect_argument`).

    The URL keeps the parameters (so anything that passes it on, such as remittance's posting
    workers, passes them too); they are swapped for asyncpg's `ssl` argument as each connection
    is opened.
    """
    tls = tls_connect_argument(engine.url)
    if tls is None:
        return

    @event.listens_for(engine.sync_engine, "do_connect")
    def connect_with_tls(dialect, connection_record, cargs, cparams) -> None:
        for name in LIBPQ_TLS_PARAMETERS:
            cparams.pop(name, None)
        cparams["ssl"] = tls
def role_url(url: str, role: str, password: str | None = None) -> str:
    """`url` (a database's) for another login role, with its password or none."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(username=role, password=password).render_as_string(hide_password=False)


def practice_literal(tenant_id: str) -> str:
    """The practice as an SQL string constant, whatever characters it has (an event's
    `ce_tenantid` is anyone's text): an escape string, so the meaning does not depend on the
    server's standard_conforming_strings. PostgreSQL text cannot hold NUL: refused here, before
    anything is sent, rather than failing the BEGIN it would travel with."""
    if "\x00" in tenant_id:
        raise ValueError("a practice id cannot contain NUL")
    return "E'" + tenant_id.replace("\\", "\\\\").replace("'", "\\'") + "'"


def begin_for_practice(begin: str) -> str:
    """asyncpg's BEGIN (with its isolation level) followed by SET LOCAL of the current task's
    practice: one simple-query message, so binding the practice costs no round trip of its own.
    SET LOCAL lasts until the transaction ends (commit or rollback), so a pooled connection
    carries no practice into its next transaction."""
    tenant_id = current_tenant()
    if tenant_id is None:
        return begin
    return f"{begin.rstrip().rstrip(';')}; SET LOCAL {TENANT_SETTING} = {practice_literal(tenant_id)};"


class PracticeBoundConnection(asyncpg.Connection):
    """The asyncpg connection of every engine made here: the BEGIN of each transaction (SQLAlchemy's
    asyncpg adapter begins through `asyncpg.Transaction.start`, which sends `BEGIN...;` by
    `Connection.execute` with no arguments) also binds the task's practice (`begin_for_practice`).
    Statements run outside a transaction block bind nothing (the intake's grouped writes set the
    practice in their own statement, see claims' claim_writes)."""

    __slots__ = ()

    async def execute(self, query: str, *args, timeout: float | None = None) -> str:
        if not args and query.startswith("BEGIN"):
            query = begin_for_practice(query)
        return await super().execute(query, *args, timeout=timeout)


async def driver_connection(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `conn`, which must be inside a transaction, for statements
    run on the driver itself (COPY, the claims intake's hot-path statements); BEGIN is sent now,
    binding the practice, if SQLAlchemy has not sent it yet (it sends BEGIN lazily, before its
    first statement: a driver statement first would otherwise run, and commit, on its own)."""
    if not conn.in_transaction():
        raise RuntimeError("driver statements run only inside a begun transaction")
    adapted = (await conn.get_raw_connection()).dbapi_connection  # SQLAlchemy's asyncpg adapter
    connection = adapted.driver_connection
    if not connection.is_in_transaction():
        # What the adapter does itself before its first statement (SQLAlchemy 2.1, pinned in
        # uv.lock; services/claims/tests/integration/test_driver_transaction.py breaks if that
        # changes): the transaction is the adapter's, so SQLAlchemy's COMMIT or ROLLBACK ends it.
        await adapted._start_transaction()
        if not connection.is_in_transaction():
            raise RuntimeError("the connection did not begin a transaction")
    return connection


_BIND_PRACTICE = sa.text(f"SELECT set_config('{TENANT_SETTING}', :tenant_id, true)")


async def bind_practice(conn: AsyncConnection, tenant_id: str | None) -> None:
    """Act for another practice from here to the end of `conn`'s transaction (one round trip):
    for a transaction that applies several practices' work in turn (the consumer's shared runs).
    None: no practice, nothing is visible."""
    await conn.execute(_BIND_PRACTICE, {"tenant_id": tenant_id or ""})


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10,
                  idle_ping_after: float = IDLE_PING_AFTER_SECONDS) -> AsyncEngine:
    """A pooled engine that fails fast when PostgreSQL is away and recovers by itself, and whose
    transactions act for the practice bound when they begin (`PracticeBoundConnection`).

    A connection broken by a server restart is replaced before it is handed out (`guard_pool`),
    and one that breaks while in use is invalidated by SQLAlchemy's disconnect handling with the
    whole pool behind it; the connect timeout and the pool timeout keep a request from hanging,
    so the API answers 503 quickly instead. TLS as the URL's `sslmode`, `sslrootcert`, ... say
    (`use_libpq_tls`), e.g. `?sslmode=verify-full&sslrootcert=/run/secrets/db-ca.crt`. Statement
    parameters are never part of an error's text (`hide_parameters`): they are patients' names,
    member ids and dates of birth, and errors are logged.
    """
    engine = create_async_engine(
        async_url(url),
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=5,
        pool_recycle=1800,
        connect_args={"timeout": 3, "command_timeout": 30, "server_settings": {"application_name": "openrcm"},
                      "connection_class": PracticeBoundConnection},
    )
    use_libpq_tls(engine)
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
        use_libpq_tls(engine)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())
