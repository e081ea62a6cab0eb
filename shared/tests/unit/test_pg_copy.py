"""COPY text format (PostgreSQL documentation, COPY, "Text Format"): what bulk writers hand the
database. The round trip through a real PostgreSQL is in tests/e2e/test_parallel_posting.py."""

from __future__ import annotations

import pickle
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from openrcm_shared import pg_copy


def test_text_escapes_only_what_the_format_needs():
    assert pg_copy.text("SMITH, JANE") == "SMITH, JANE"
    assert pg_copy.text("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"
    assert pg_copy.text(None) == "\\N"
    assert pg_copy.text("") == ""  # an empty string is not NULL


def test_values_by_type():
    event_id = UUID("5f8aa717-aa0f-484a-8a60-d3dd624e429b")
    assert pg_copy.row([event_id, "x", 7, Decimal("-12.50"), True, None]) == (
        "5f8aa717-aa0f-484a-8a60-d3dd624e429b\tx\t7\t-12.50\tt\t\\N\n")
    assert pg_copy.field(date(2026, 2, 20)) == "2026-02-20"
    assert pg_copy.field(datetime(2026, 2, 20, 8, 30, tzinfo=timezone.utc)) == "2026-02-20T08:30:00+00:00"
    assert pg_copy.field(b"\x00\xff") == "\\\\x00ff"  # bytea hex form, its backslash escaped
    # JSON: compact, and every backslash of its own escapes doubled for the COPY format.
    assert pg_copy.field({"note": 'say "hi"\n', "codes": ["45"]}) == '{"note":"say \\\\"hi\\\\"\\\\n","codes":["45"]}'
    with pytest.raises(TypeError):
        pg_copy.field(object())


def test_copy_data_crosses_processes_as_bytes():
    copy = pg_copy.CopyData("journal_entries", ("a", "b"), ["1\tx\n", "2\ty\n"])
    again = pickle.loads(pickle.dumps(copy))
    assert (again.table, again.columns, again.rows, again.data) == ("journal_entries", ("a", "b"), 2, b"1\tx\n2\ty\n")
