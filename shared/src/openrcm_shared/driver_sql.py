"""Hot-path statements compiled once and run on the asyncpg connection under a SQLAlchemy transaction.

Why: on the claims service's busiest paths (intake, acknowledgements) SQLAlchemy's execution layer
cost about 130 us of CPU per statement on top of asyncpg's own 90 us, even with the statement
built once and cached, and 250 us more when the statement was built per call (measured under
`./openrcm bench intake`, see docs/benchmarks.md); collections opens a first-billed claim's
receivable the same way (a fifth of its consumer's Python CPU per claim). The statements are still written with
SQLAlchemy Core against the same tables, so column names and types have one source; they are
compiled once for the asyncpg dialect, and each call binds its values through the same type
processors SQLAlchemy would apply (JSON is serialised the same way, for the codecs SQLAlchemy
installs on its connections).

They run inside the caller's transaction: the SQLAlchemy connection must be in a transaction
(`engine.begin()`, or `conn.begin()`); running one outside a transaction would commit on its
own, so that is refused. SQLAlchemy's asyncpg adapter issues the real BEGIN lazily, before its
first statement; when a driver statement comes first, `driver` has the adapter begin it, so the
adapter still owns the transaction and SQLAlchemy's COMMIT or ROLLBACK ends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg
import pydantic_core
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement

from openrcm_shared.db import driver_connection


def _json_text(value: Any) -> str:
    # pydantic-core's serializer: the same JSON document as json.dumps (PostgreSQL stores jsonb
    # parsed, so spacing and escapes do not matter) at a fifth of the CPU; the intake writes four
    # JSON values per claim (the encounter document, lines, timeline, scrub hits).
    return pydantic_core.to_json(value).decode()


_DIALECT = asyncpg_dialect(json_serializer=_json_text)


class DriverStatement:
    """One Core statement as SQL text with its positional parameters and their bind processors."""

    def __init__(self, statement: ClauseElement, column_keys: Iterable[str] | None = None) -> None:
        # column_keys: the columns an INSERT or UPDATE sets, each bound under its own name.
        compiled = statement.compile(dialect=_DIALECT, column_keys=list(column_keys) if column_keys else None)
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self._processors = tuple(compiled.binds[name].type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
                                 for name in self.names)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """Positional arguments for asyncpg; every parameter of the statement must be given."""
        return [value if processor is None or value is None else processor(value)
                for value, processor in zip((params[name] for name in self.names), self._processors)]


# The asyncpg connection under a SQLAlchemy connection in a transaction (BEGIN sent now if
# SQLAlchemy has not sent it yet): shared with the bulk writers (openrcm_shared.pg_copy).
driver = driver_connection


def record_type(name: str, table) -> type:
    """A named tuple of `table`'s columns, for rows read by driver statements: callers read
    columns by attribute, as they would on a SQLAlchemy Row."""
    from collections import namedtuple

    return namedtuple(name, [column.name for column in table.columns])


async def fetch(conn: AsyncConnection, statement: DriverStatement, params: Mapping[str, Any]) -> list[asyncpg.Record]:
    return await (await driver(conn)).fetch(statement.sql, *statement.args(params))


async def execute(conn: AsyncConnection, statement: DriverStatement, params: Mapping[str, Any]) -> str:
    """Run a statement that returns no rows; its command tag (`INSERT 0 1`, `UPDATE 3`)."""
    return await (await driver(conn)).execute(statement.sql, *statement.args(params))


async def fetch_many_alone(conn: AsyncConnection, statement: DriverStatement,
                           params: Iterable[Mapping[str, Any]]) -> list[asyncpg.Record]:
    """One statement run once per parameter set, pipelined in one round trip as one transaction of
    its own (asyncpg's `fetchmany` ends the pipeline with a single Sync: PostgreSQL commits every
    run together, with one WAL flush, or none of them if one fails); the rows of every run, in
    one list. `conn` must not be in a transaction (nor its asyncpg connection)."""
    connection = await _outside_transaction(conn)
    return await connection.fetchmany(statement.sql, [statement.args(p) for p in params])


async def _outside_transaction(conn: AsyncConnection) -> asyncpg.Connection:
    # Sent outside a transaction block, PostgreSQL commits the pipeline whole when it completes,
    # which saves the BEGIN and COMMIT round trips.
    if conn.in_transaction():
        raise RuntimeError("this statement runs as a transaction of its own, outside any other")
    connection = (await conn.get_raw_connection()).driver_connection
    if connection.is_in_transaction():
        raise RuntimeError("this statement runs as a transaction of its own, outside any other")
    return connection


async def execute_many(conn: AsyncConnection, statement: DriverStatement, rows: Iterable[Mapping[str, Any]]) -> None:
    """One statement for many rows, pipelined by asyncpg in one round trip."""
    args = [statement.args(row) for row in rows]
    if args:
        await (await driver(conn)).executemany(statement.sql, args)
