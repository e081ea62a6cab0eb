"""Cursors are input: anything that is not a cursor we issued, or holds a value its sort column
cannot take, is a 400 naming /query/cursor before a query runs (forged cursors used to reach
PostgreSQL's casts: a 500)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4

import pytest
import sqlalchemy as sa

from openrcm_shared.http.pagination import MAX_CURSOR_LENGTH, _typed, decode_cursor, encode_cursor, fetch_page
from openrcm_shared.http.problems import Problem

_metadata = sa.MetaData()
rows = sa.Table("rows", _metadata, sa.Column("id", sa.Uuid), sa.Column("created_at", sa.DateTime(timezone=True)),
                sa.Column("serial", sa.Integer), sa.Column("entry", sa.BigInteger),
                sa.Column("amount", sa.Numeric(12, 2)), sa.Column("npi", sa.Text))


def raw_cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_our_cursors_read_back_as_their_columns_types():
    moment, identifier = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc), uuid4()
    created_at, row_id = decode_cursor(encode_cursor(moment, identifier), 2)
    assert _typed(rows.c.created_at, created_at) == moment and _typed(rows.c.id, row_id) == identifier
    assert _typed(rows.c.amount, "-1234567890.12") == Decimal("-1234567890.12")
    assert _typed(rows.c.entry, str(2 ** 63 - 1)) == 2 ** 63 - 1 and _typed(rows.c.npi, "1234567893") == "1234567893"


@pytest.mark.parametrize("cursor", [
    "!!!", raw_cursor(["only-one"]), raw_cursor({"a": 1}), raw_cursor([1, 2]), raw_cursor([["x"], "y"]),
    base64.urlsafe_b64encode(b"[" * 2000 + b"]" * 2000).decode(),  # nested past Python's json recursion
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
    raw_cursor(["a\x00", "b"]), raw_cursor(["\ud800", "b"]),  # a NUL, a lone surrogate: not PostgreSQL text
    "A" * (MAX_CURSOR_LENGTH + 1),
])
def test_anything_but_our_encoding_is_a_400(cursor):
    with pytest.raises(Problem) as raised:
        decode_cursor(cursor, 2)
    assert raised.value.status == 400 and raised.value.errors[0]["pointer"] == "/query/cursor"


@pytest.mark.parametrize("column, value", [
    (rows.c.id, "not-a-uuid"), (rows.c.created_at, "yesterday"), (rows.c.created_at, "2026-01-02T03:04:05"),
    (rows.c.serial, str(2 ** 31)), (rows.c.serial, "1.5"), (rows.c.entry, "9" * 5000),
    (rows.c.amount, "NaN"), (rows.c.amount, "1e30"), (rows.c.amount, "12345678901.00"), (rows.c.amount, "abc"),
])
def test_values_their_column_cannot_take_are_refused(column, value):
    with pytest.raises((ValueError, ArithmeticError)):
        _typed(column, value)


async def test_fetch_page_refuses_a_forged_cursor_before_any_query():
    class NoDatabase:
        async def execute(self, query):
            raise AssertionError("a forged cursor reached the database")

    forged = encode_cursor("not-a-time", "not-a-uuid")
    with pytest.raises(Problem) as raised:
        await fetch_page(NoDatabase(), sa.select(rows), order_by=[rows.c.created_at, rows.c.id], cursor=forged,
                         limit=10)
    assert raised.value.status == 400
