"""Opaque cursor pagination: the cursor encodes the last row's sort key, never an offset.

A cursor comes back from the client, so it is untrusted input: anything but a cursor this API
issued (for the same sort key) is a 400 naming `/query/cursor`, never a database error.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from openrcm_shared.http.problems import Problem, field_error

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*sort_key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(part) for part in sort_key]).encode()).decode().rstrip("=")


# Our cursors are a few dozen characters (a timestamp and a UUID); anything much longer was not
# issued here, and its JSON is never parsed (no nesting deep enough to exhaust the parser).
MAX_CURSOR_LENGTH = 512
_BIGINT = (-(2**63), 2**63 - 1)


def _invalid_cursor() -> Problem:
    return Problem(400, "Invalid cursor", "Pass back the next_cursor of a previous page unchanged.",
                   type_="invalid-cursor", errors=[field_error("/query/cursor", "not a cursor issued by this API")])


def decode_cursor(cursor: str | None, parts: int) -> list[str] | None:
    """The `parts` values of a cursor from `encode_cursor`, or None without one; a 400 problem for anything
    else (not base64 JSON, another number of parts, text PostgreSQL cannot take: NUL, lone surrogates)."""
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != parts:
            raise ValueError
        texts = [str(v) for v in values]
        for text in texts:
            text.encode()  # a lone surrogate cannot be sent to the database
            if "\x00" in text:
                raise ValueError
        return texts
    except (ValueError, RecursionError):
        raise _invalid_cursor() from None


def _typed(column, text: str) -> Any:
    """A cursor value as the Python value of `column`'s type, checked so the database takes it."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return text
    try:
        if python_type is datetime:
            return datetime.fromisoformat(text)
        if python_type is date:
            return date.fromisoformat(text)
        if python_type is uuid.UUID:
            return uuid.UUID(text)
        if python_type is int:
            value = int(text)
            if not _BIGINT[0] <= value <= _BIGINT[1]:
                raise ValueError
            return value
        if python_type is Decimal:
            return _numeric(column, text)
    except (ValueError, InvalidOperation):
        raise _invalid_cursor() from None
    return text


def _numeric(column, text: str) -> Decimal:
    value = Decimal(text)
    precision, scale = getattr(column.type, "precision", None), getattr(column.type, "scale", None) or 0
    if not value.is_finite() or (precision is not None and abs(value) >= Decimal(10) ** (precision - scale)):
        raise ValueError  # NUMERIC(p, s) overflows past p - s integer digits
    return value


async def fetch_page(conn, query, *, order_by: list, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """Keyset pagination, descending on `order_by` (columns; the last must be unique, e.g. the id).

    The cursor is the last row's sort key, so pages stay stable while rows are added; a cursor that is
    not one this API issued for these columns is a 400 problem before any query runs.
    """
    import sqlalchemy as sa

    after = decode_cursor(cursor, len(order_by))
    if after:
        key = [_typed(column, value) for column, value in zip(order_by, after)]
        query = query.where(sa.tuple_(*order_by) < sa.tuple_(
            *[sa.literal(value, column.type) for column, value in zip(order_by, key)]))
    rows = (await conn.execute(query.order_by(*[column.desc() for column in order_by]).limit(limit + 1))).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(*[page[-1]._mapping[column.name] for column in order_by])
    return page, next_cursor
