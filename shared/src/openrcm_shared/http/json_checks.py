"""Checks on a JSON request body before any parser or database sees it.

Two things in a JSON body turn into a 500 further in if nothing stops them:

- nesting: Python's `json` module recurses once per level (a few thousand `[` raise RecursionError,
  not ValueError), and code walking the parsed value recurses again;
- strings PostgreSQL text cannot hold: `\\u0000` (a NUL character) and an unpaired surrogate such
  as `\\ud800` (no UTF-8 form): both parse, validate as `str`, and fail only when the driver
  sends them.

Both checks work on the raw bytes with a few C-speed passes (`bytes.count`, `replace`, `split`,
`translate`, one small regex), so a body that is fine costs microseconds; the slow path (parsing,
to name the field) runs only for a body that is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

# Every byte except the four brackets, for bytes.translate(None, delete=...).
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
# One pass removes every innermost pair (a pair with nothing nested inside it), so a balanced
# string of brackets nested d deep is empty after exactly d passes.
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """True when the JSON text nests arrays and objects deeper than `limit` levels.

    Brackets inside strings are not counted. A body whose brackets do not balance is not judged
    (False): it is not JSON, and the parser says so."""
    if body.count(b"[") + body.count(b"{") <= limit:  # cannot be deeper than its bracket count
        return False
    brackets = _structural(body).translate(None, _NOT_BRACKETS)
    if _levels_at_most(brackets, limit):
        return False
    for _ in range(limit):
        reduced = _INNERMOST_PAIR.sub(b"", brackets)
        if not reduced or len(reduced) == len(brackets):  # all removed, or unbalanced
            return False
        brackets = reduced
    return True


def _levels_at_most(brackets: bytes, limit: int) -> bool:
    """Quick sufficient test: True when the brackets nest at most `limit` deep. `bytes.replace`
    removes only the pairs adjacent before it runs, so one round of the two removes at most two
    levels: emptied in r rounds means at most 2r levels. (False says nothing: the exact count follows.)"""
    for rounds in range(1, limit // 2 + 1):
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if not brackets:
            return 2 * rounds <= limit
    return False


def _structural(body: bytes) -> bytes:
    """The body without its strings. Escapes go first: a pair of backslashes is one escaped
    backslash, so after removing the pairs a backslash before a quote always escapes it."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(body.split(b'"')[0::2])


def may_hold_unstorable_strings(body: bytes) -> bool:
    """Cheap test: could a string of this JSON hold NUL or an unpaired surrogate? Looks for the
    escapes that make them (`\\u0000`, `\\ud800`-`\\udfff`) and a raw NUL byte (JSON does not allow
    one, and a lenient parser would pass it on)."""
    return b"\x00" in body or b"\\u0000" in body or b"\\ud" in body or b"\\uD" in body


def unstorable_string_pointers(body: bytes) -> list[str]:
    """RFC 6901 pointers to the strings (values or member names) that PostgreSQL text cannot
    hold; [] when there are none or when the body is not JSON (the parser reports that)."""
    if not may_hold_unstorable_strings(body):
        return []
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []
    return list(_unstorable(document, ""))


def is_storable(text: str) -> bool:
    """Whether PostgreSQL text can hold `text`: no NUL character, and valid UTF-8 (no unpaired surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unstorable(value: Any, pointer: str) -> Iterator[str]:
    # Iterative (the document may be as deep as the nesting limit allows), in document order.
    pending = [(value, pointer)]
    while pending:
        value, pointer = pending.pop()
        if isinstance(value, str):
            if not is_storable(value):
                yield pointer
        elif isinstance(value, dict):
            children = []
            for key, member in value.items():
                if is_storable(key):
                    children.append((member, pointer + "/" + key.replace("~", "~0").replace("/", "~1")))
                else:
                    yield pointer + "/" + _escaped(key)
            pending.extend(reversed(children))
        elif isinstance(value, list):
            pending.extend((value[index], f"{pointer}/{index}") for index in reversed(range(len(value))))


def _escaped(key: str) -> str:
    """A member name that cannot be stored, written so it can be echoed (and logged): \\u0000, \\ud800."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")
