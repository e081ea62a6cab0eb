"""Database engines and migrations. Each service owns one PostgreSQL database.

Schemas change only through the service's Alembic migrations, run before the service starts
(`openrcm_shared.db.migrate`); nothing calls `create_all()` at start-up.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and return the asyncpg form."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """A pooled engine that fails fast when PostgreSQL is away and recovers by itself.

    pre-ping replaces connections broken by a server restart; the connect timeout and the pool
    timeout keep a request from hanging, so the API answers 503 quickly instead.
    """
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_timeout=5,
        pool_recycle=1800,
        connect_args={"timeout": 3, "command_timeout": 30, "server_settings": {"application_name": "openrcm"}},
    )


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
        engine = create_async_engine(async_url(url), poolclass=NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())


async def copy_rows(conn, table, rows: list[dict]) -> None:
    """Insert many rows with PostgreSQL's COPY, inside `conn`'s transaction: several times faster
    than an INSERT per row for bulk writes (an ERA's postings). JSON columns take Python values,
    serialised here; every row must have the same keys."""
    if not rows:
        return
    import json
    import operator

    import sqlalchemy as sa

    columns = list(rows[0])
    values_of = operator.itemgetter(*columns)
    records = [values_of(row) for row in rows] if len(columns) > 1 else [(values_of(row),) for row in rows]
    json_positions = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, sa.JSON)]
    if json_positions:
        records = [list(record) for record in records]
        for record in records:
            for i in json_positions:
                if record[i] is not None:
                    record[i] = json.dumps(record[i])
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)
