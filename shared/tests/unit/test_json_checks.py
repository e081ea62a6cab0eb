"""JSON checks on raw bytes: nesting depth (brackets in strings not counted) and strings
PostgreSQL text cannot hold, each named by a JSON pointer."""

from __future__ import annotations

import json

import pytest

from openrcm_shared.http.json_checks import (
    is_storable, may_hold_unstorable_strings, nesting_exceeds, unstorable_string_pointers,
)


def nested(depth: int, *, inner: str = "1") -> bytes:
    return ('{"a":' * (depth // 2) + "[" * (depth - depth // 2) + inner + "]" * (depth - depth // 2)
            + "}" * (depth // 2)).encode()


@pytest.mark.parametrize("depth, exceeds", [(0, False), (1, False), (63, False), (64, False), (65, True),
                                            (5000, True)])
def test_depth_is_measured_exactly(depth, exceeds):
    body = nested(depth) if depth else b"1"
    if depth <= 100:
        json.loads(body)  # well-formed
    else:
        with pytest.raises(RecursionError):  # why the bound exists
            json.loads(body)
    assert nesting_exceeds(body, 64) is exceeds


def test_wide_documents_are_not_deep():
    lines = [{"procedure_code": "99213", "modifiers": ["25"], "diagnosis_pointers": [1, 2]} for _ in range(999)]
    assert not nesting_exceeds(json.dumps({"lines": lines, "patient": {"address": {}}}).encode(), 64)


def test_brackets_and_escaped_quotes_inside_strings_are_not_nesting():
    text = json.dumps({"note": "[[[[{{{{" * 50 + '\\"[' * 40, "other": ["\\", "]]]]"]})
    assert not nesting_exceeds(text.encode(), 64)
    assert nesting_exceeds(json.dumps([[{"s": "\\\\"}]]).encode(), 2)


def test_unbalanced_text_is_left_to_the_parser():
    assert not nesting_exceeds(b"[" * 100, 64)
    assert not nesting_exceeds(b"{[" * 100 + b"}]" * 100, 64)


def test_unstorable_strings_are_named_by_pointer_in_document_order():
    document = {"patient": {"first_name": "Te\x00sty", "tags": ["ok", "\ud800"]}, "a/b": {"c~d": "x\udfff"},
                "fine": "Zoë 😀"}
    body = json.dumps(document).encode()  # ensure_ascii: \u0000, \ud800 and \udfff escapes
    assert unstorable_string_pointers(body) == ["/patient/first_name", "/patient/tags/1", "/a~1b/c~0d"]
    assert unstorable_string_pointers(json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")) \
        == ["/patient/first_name", "/patient/tags/1", "/a~1b/c~0d"]


def test_a_member_name_that_cannot_be_stored_is_named_printably():
    assert unstorable_string_pointers(json.dumps({"ok": {"na\x00me": 1}}).encode()) == ["/ok/na\\u0000me"]


def test_the_cheap_test_lets_ordinary_bodies_through_without_parsing():
    assert not may_hold_unstorable_strings(json.dumps({"name": "Zoë", "path": "C:\\temp"}).encode())
    assert may_hold_unstorable_strings(b'{"a": "\\u0000"}') and may_hold_unstorable_strings(b'{"a": "\\uD834"}')
    assert unstorable_string_pointers(b'{"a": "\\\\u0000"}') == []  # an escaped backslash, then text
    assert unstorable_string_pointers(b'{"a": "\\ud834\\udd1e"}') == []  # a valid surrogate pair (𝄞)
    assert unstorable_string_pointers(b'{"a": "\\u0000"') == []  # not JSON: the parser says so


def test_is_storable():
    assert is_storable("Zoë 😀") and not is_storable("a\x00") and not is_storable("\ud800")
