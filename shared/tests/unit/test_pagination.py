"""Cursors are client input: anything this API did not issue is a 400 problem, never a database error."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from openrcm_shared.http.pagination import MAX_CURSOR_LENGTH, _typed, decode_cursor, encode_cursor
from openrcm_shared.http.problems import Problem

_TABLE = sa.Table(
    "listed", sa.MetaData(),
    sa.Column("id", postgresql.UUID(as_uuid=True)), sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("amount", sa.Numeric(12, 2)), sa.Column("sequence", sa.BigInteger()), sa.Column("npi", sa.Text()))


def raw_cursor(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


def assert_invalid_cursor(call) -> None:
    with pytest.raises(Problem) as problem:
        call()
    assert problem.value.status == 400
    assert problem.value.errors == [{"pointer": "/query/cursor", "detail": "not a cursor issued by this API"}]


def test_an_issued_cursor_comes_back_as_typed_values():
    created, identifier = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), uuid4()
    texts = decode_cursor(encode_cursor(created, identifier), 2)
    assert _typed(_TABLE.c.created_at, texts[0]) == created
    assert _typed(_TABLE.c.id, texts[1]) == identifier
    assert _typed(_TABLE.c.amount, decode_cursor(encode_cursor(Decimal("-12.50")), 1)[0]) == Decimal("-12.50")
    assert _typed(_TABLE.c.sequence, "42") == 42 and _typed(_TABLE.c.npi, "1234567893") == "1234567893"


@pytest.mark.parametrize("json_text", [
    '["a\\u0000b"]',  # PostgreSQL text cannot hold NUL
    '["\\ud800"]',  # a lone surrogate is not UTF-8
])
def test_text_the_database_cannot_take_is_not_a_cursor(json_text):
    assert_invalid_cursor(lambda: decode_cursor(raw_cursor(json_text), 1))


def test_an_overlong_or_deeply_nested_cursor_is_refused_before_parsing():
    assert_invalid_cursor(lambda: decode_cursor("A" * (MAX_CURSOR_LENGTH + 1), 1))
    assert_invalid_cursor(lambda: decode_cursor(raw_cursor("[" * 5000 + "]" * 5000), 1))


@pytest.mark.parametrize(("column", "text"), [
    ("created_at", "not a time"), ("created_at", "2026-13-01T00:00:00"),
    ("id", "not-a-uuid"),
    ("amount", "abc"), ("amount", "NaN"), ("amount", "Infinity"), ("amount", "1e999999"), ("amount", "10000000000"),
    ("sequence", "1.5"), ("sequence", str(2**63)), ("sequence", "x"),
])
def test_a_value_that_does_not_fit_its_column_is_not_a_cursor(column, text):
    assert_invalid_cursor(lambda: _typed(_TABLE.c[column], text))


def test_the_largest_amount_a_numeric_column_holds_is_still_a_cursor():
    assert _typed(_TABLE.c.amount, "9999999999.99") == Decimal("9999999999.99")
    assert isinstance(_typed(_TABLE.c.id, str(UUID(int=0))), UUID)
