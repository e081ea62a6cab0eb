"""Rows in PostgreSQL's COPY text format, built as plain strings.

Bulk writers (an ERA's claim payments, ledger entries and events) build their rows where the CPU
is free — a worker process — and hand the database connection nothing but bytes to stream. The
format (PostgreSQL documentation, "COPY", section "Text Format"): one line per row, columns
separated by a tab, `\\N` for NULL, and backslash, newline, carriage return and tab inside a value
written as backslash escapes. bytea values are written in the hex form (`\\x...`, its backslash
escaped in turn).
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic_core import to_json

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
    """Stream `copy` into its table inside `conn`'s transaction (a SQLAlchemy AsyncConnection)."""
    if not copy.rows:
        return
    raw = await conn.get_raw_connection()
    # A file object: asyncpg would take plain bytes for a file name.
    await raw.driver_connection.copy_to_table(copy.table, source=io.BytesIO(copy.data), columns=list(copy.columns),
                                              format="text")
