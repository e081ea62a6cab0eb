"""Rows in PostgreSQL's COPY text format, built as plain strings.

Bulk writers (an ERA's claim payments, ledger entries and events) build their rows where the CPU
is free — a worker process — and hand the database connection nothing but bytes to stream. The
format (PostgreSQL documentation, "COPY", section "Text Format"): one line per row, columns
separated by a tab, `\\N` for NULL, and backslash, newline, carriage return and tab inside a value
written as backslash escapes. bytea values are written in the hex form (`\\x...`, its backslash
escaped in turn).

PostgreSQL refuses COPY FROM into a table whose row-level security policies apply to the session
("COPY FROM not supported with row-level security"): a role that bypasses them (the system role
that posts ERAs) streams the rows straight in; a role held to them (the app role: a manual
posting) has them copied into a temporary table first and inserted from there, so every row
passes the policies' WITH CHECK.
"""

from __future__ import annotations

import io
import itertools
import re
import weakref
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic_core import to_json

from openrcm_shared.db import driver_connection

NULL = "\\N"
_SPECIAL = re.compile(r"[\\\n\r\t]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def text(value: str | None) -> str:
    """A text value, escaped only where it has to be (almost never: search first, it is cheaper)."""
    if value is None:
        return NULL
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def jsonb(value) -> str:
    """A json/jsonb value: JSON text (which has no raw control characters) with its backslashes escaped."""
    if value is None:
        return NULL
    return to_json(value).decode().replace("\\", "\\\\")


def bytea(value: bytes | None) -> str:
    return NULL if value is None else "\\\\x" + value.hex()


def field(value) -> str:
    """Any value by its type (for rows that are not on a hot path; hot paths format their own)."""
    if value is None:
        return NULL
    if isinstance(value, str):
        return text(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, Decimal, UUID)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytea(bytes(value))
    if isinstance(value, (dict, list, tuple)):
        return jsonb(value)
    raise TypeError(f"no COPY text form for {type(value).__name__}")


def row(values) -> str:
    """One line of COPY text (with its newline)."""
    return "\t".join([field(value) for value in values]) + "\n"


class CopyData:
    """Rows for one table, in COPY text form, ready to stream (picklable: it crosses processes)."""

    __slots__ = ("table", "columns", "data", "rows")

    def __init__(self, table: str, columns: tuple[str, ...], lines: list[str]) -> None:
        self.table, self.columns, self.rows = table, columns, len(lines)
        self.data = "".join(lines).encode()

    def __getstate__(self):
        return self.table, self.columns, self.data, self.rows

    def __setstate__(self, state) -> None:
        self.table, self.columns, self.data, self.rows = state


async def copy_data(conn, copy: CopyData) -> None:
    """Stream `copy` into its table inside `conn`'s transaction (a SQLAlchemy AsyncConnection in
    a transaction; its BEGIN is sent first if SQLAlchemy has not sent it yet);
    through a temporary table and INSERT when the table's row-level security applies to `conn`'s
    role (then every row must be the transaction's practice's, or nothing is written)."""
    if not copy.rows:
        return
    driver = await driver_connection(conn)
    if await _held_to_policies(driver, copy.table):
        await _insert_through_temporary_table(driver, copy)
        return
    # A file object: asyncpg would take plain bytes for a file name.
    await driver.copy_to_table(copy.table, source=io.BytesIO(copy.data), columns=list(copy.columns), format="text")


# connection -> table -> whether its policies apply; a connection's role never changes.
_POLICIES_APPLY: "weakref.WeakKeyDictionary[object, dict[str, bool]]" = weakref.WeakKeyDictionary()
_TEMPORARY_NAMES = itertools.count()


async def _held_to_policies(driver, table: str) -> bool:  # noqa: ANN001 - asyncpg connection
    known = _POLICIES_APPLY.setdefault(driver, {})
    if table not in known:
        known[table] = bool(await driver.fetchval("SELECT row_security_active($1::regclass)", table))
    return known[table]


async def _insert_through_temporary_table(driver, copy: CopyData) -> None:  # noqa: ANN001
    columns = ", ".join(f'"{column}"' for column in copy.columns)
    staging = f"openrcm_copy_{next(_TEMPORARY_NAMES)}"
    # Only the columns copied, no constraints (the table's own are checked by the INSERT); dropped
    # at the end of the transaction at the latest.
    await driver.execute(f'CREATE TEMPORARY TABLE "{staging}" ON COMMIT DROP AS '
                         f'SELECT {columns} FROM "{copy.table}" WITH NO DATA')
    await driver.copy_to_table(staging, source=io.BytesIO(copy.data), columns=list(copy.columns), format="text")
    await driver.execute(f'INSERT INTO "{copy.table}" ({columns}) SELECT {columns} FROM "{staging}"; '
                         f'DROP TABLE "{staging}"')
