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
