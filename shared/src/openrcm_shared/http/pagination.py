"""Opaque cursor pagination: the cursor encodes the last row's sort key, never an offset.

A cursor comes back from the client, so it is input like any other: one that is too long, not our
encoding, nested, or holding a value its sort column cannot take (a date that is not a date, a
number past the column's range, a NUL) is a 400 naming `/query/cursor`, never a database error.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
from pydantic import BaseModel

from openrcm_shared.http.json_checks import is_storable
from openrcm_shared.http.problems import Problem, field_error

T = TypeVar("T")

# Our cursors hold a sort key of two or three short values: a few hundred characters at most.
MAX_CURSOR_LENGTH = 1024
# The ranges of PostgreSQL's smallint, integer and bigint.
_INTEGER_RANGES = {sa.SmallInteger: 2 ** 15, sa.BigInteger: 2 ** 63, sa.Integer: 2 ** 31}


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*sort_key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(part) for part in sort_key]).encode()).decode().rstrip("=")


def invalid_cursor(detail: str = "not a cursor issued by this API") -> Problem:
    return Problem(400, "Invalid cursor", "Pass back the next_cursor of a previous page unchanged.",
                   type_="invalid-cursor", errors=[field_error("/query/cursor", detail)])


def decode_cursor(cursor: str | None, parts: int) -> list[str] | None:
    """The `parts` values a cursor holds, as strings; 400 for anything that is not such a cursor."""
    if cursor is None:
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid_cursor()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, RecursionError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise invalid_cursor() from None
    if not isinstance(values, list) or len(values) != parts or not all(isinstance(v, str) for v in values):
        raise invalid_cursor()
    if not all(is_storable(value) for value in values):
        raise invalid_cursor()
    return values


def _typed(column: sa.Column, value: str) -> Any:
    """A cursor value as the Python value its sort column holds; ValueError if it cannot be one."""
    column_type = column.type
    try:
        python_type = column_type.python_type
    except NotImplementedError:  # a type without a Python value: the text as it is
        return value
    if python_type is int:
        number = int(value)
        bound = next((b for kind, b in _INTEGER_RANGES.items() if isinstance(column_type, kind)), 2 ** 63)
        if not -bound <= number < bound:
            raise ValueError("out of the column's range")
        return number
    if python_type is datetime:
        moment = datetime.fromisoformat(value)
        if (moment.tzinfo is not None) != bool(getattr(column_type, "timezone", False)):
            raise ValueError("time zone does not match the column")
        return moment
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is UUID:
        return UUID(value)
    if python_type is Decimal:
        return _decimal_for(column_type, value)
    return value


def _decimal_for(column_type, value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not amount.is_finite():
        raise ValueError("not a finite number")
    precision, scale = getattr(column_type, "precision", None), getattr(column_type, "scale", None) or 0
    if precision is not None and amount.adjusted() >= precision - scale:
        raise ValueError("more digits than the column holds")
    return amount


async def fetch_page(conn, query, *, order_by: list, cursor: str | None, limit: int,
                     descending: bool = True) -> tuple[list, str | None]:
    """Keyset pagination on `order_by` (columns; the last must be unique, e.g. the id), descending unless
    `descending=False` (soonest deadline or oldest first).

    The cursor is the last row's sort key, so pages stay stable while rows are added. Its values
    are read as their columns' types before they reach the query (400 when they cannot be).
    """
    after = decode_cursor(cursor, len(order_by))
    if after:
        try:
            key = [sa.literal(_typed(column, value), type_=column.type) for column, value in zip(order_by, after)]
        except (ValueError, TypeError, OverflowError):
            raise invalid_cursor() from None
        after_key = sa.tuple_(*order_by) < sa.tuple_(*key) if descending else sa.tuple_(*order_by) > sa.tuple_(*key)
        query = query.where(after_key)
    ordering = [column.desc() if descending else column.asc() for column in order_by]
    rows = (await conn.execute(query.order_by(*ordering).limit(limit + 1))).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(*[page[-1]._mapping[column.name] for column in order_by])
    return page, next_cursor
