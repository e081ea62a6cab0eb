"""Hot-path statements compiled once and run on the asyncpg connection under a SQLAlchemy transaction.

Why: on this service's busiest paths (intake, acknowledgements) SQLAlchemy's execution layer
cost about 130 us of CPU per statement on top of asyncpg's own 90 us, even with the statement
built once and cached, and 250 us more when the statement was built per call (measured under
`./openrcm bench intake`, see docs/benchmarks.md). The statements are still written with
SQLAlchemy Core against the same tables, so column names and types have one source; they are
compiled once for the asyncpg dialect, and each call binds its values through the same type
processors SQLAlchemy would apply (JSON is serialised the same way, for the codecs SQLAlchemy
installs on its connections).

They run inside the caller's transaction: the connection's transaction must already have begun
(any SQLAlchemy statement on it begins it); running one outside a transaction would commit on
its own, so that is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement

_DIALECT = asyncpg_dialect()


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


async def driver(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `conn`, which must be inside a begun transaction."""
    connection = (await conn.get_raw_connection()).driver_connection
    if not connection.is_in_transaction():
        raise RuntimeError("driver statements run only inside a begun transaction")
    return connection


async def fetch(conn: AsyncConnection, statement: DriverStatement, params: Mapping[str, Any]) -> list[asyncpg.Record]:
    return await (await driver(conn)).fetch(statement.sql, *statement.args(params))


async def execute_many(conn: AsyncConnection, statement: DriverStatement, rows: Iterable[Mapping[str, Any]]) -> None:
    """One statement for many rows, pipelined by asyncpg in one round trip."""
    args = [statement.args(row) for row in rows]
    if args:
        await (await driver(conn)).executemany(statement.sql, args)
