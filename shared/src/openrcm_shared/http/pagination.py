"""Opaque cursor pagination: the cursor encodes the last row's sort key, never an offset."""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from openrcm_shared.http.problems import Problem, field_error

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*sort_key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(part) for part in sort_key]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, parts: int) -> list[str] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != parts:
            raise ValueError
        return [str(v) for v in values]
    except ValueError:
        raise Problem(400, "Invalid cursor", "Pass back the next_cursor of a previous page unchanged.",
                      type_="invalid-cursor", errors=[field_error("/query/cursor", "not a cursor issued by this API")]) from None


async def fetch_page(conn, query, *, order_by: list, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """Keyset pagination, descending on `order_by` (columns; the last must be unique, e.g. the id).

    The cursor is the last row's sort key, so pages stay stable while rows are added.
    """
    import sqlalchemy as sa

    after = decode_cursor(cursor, len(order_by))
    if after:
        query = query.where(sa.tuple_(*order_by) < sa.tuple_(
            *[sa.literal(value).cast(column.type) for column, value in zip(order_by, after)]))
    rows = (await conn.execute(query.order_by(*[column.desc() for column in order_by]).limit(limit + 1))).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(*[page[-1]._mapping[column.name] for column in order_by])
    return page, next_cursor
