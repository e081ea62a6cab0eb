"""The Idempotency-Key fingerprint's canonical JSON (openrcm_shared.http.idempotency) is written
by orjson, with json.dumps where orjson would write other bytes. Keys stored by earlier versions
hashed `json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))`: every body must
still hash to exactly that, or a client's retry across an upgrade would be refused as a key
reused with another body."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from openrcm_shared.http.idempotency import canonical_json, parsed_request_fingerprint, request_fingerprint


def hash_as_before(method: str, path: str, body: bytes) -> str:
    """The fingerprint as json.dumps alone computed it."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


# JSON values as an EHR may send them: every string (non-ASCII, escapes, lone surrogates), integers
# beyond 64 bits, floats of every magnitude (small exponents are where orjson and repr differ).
_scalars = (st.none() | st.booleans() | st.text() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
            | st.floats(allow_nan=True, allow_infinity=True))
_documents = st.recursive(_scalars, lambda children: st.lists(children, max_size=4)
                          | st.dictionaries(st.text(max_size=6), children, max_size=4), max_leaves=20)


@settings(max_examples=1000, deadline=None)
@given(_documents, st.booleans())
def test_every_body_hashes_as_it_did_with_json_dumps(document, spaced):
    body = json.dumps(document, indent=2 if spaced else None).encode()
    assert request_fingerprint("POST", "/v1/encounters", body) == hash_as_before("POST", "/v1/encounters", body)


def test_the_forms_orjson_writes_differently_fall_back_to_json_dumps():
    for text in ('{"tiny": 1e-05, "b": 4.763021927302582e-07}', '{"name": "Zoë", "ünï": 1}', '{"\\u007f": "\\u007f\\u0010"}',
                 '{"big": 123456789012345678901234567890}', '{"x": NaN, "y": -Infinity, "z": 1E400}',
                 '{"s": "\\ud800"}', '[0.1, 125.10, 1.5E2, -0.0, 3]'):
        body = text.encode()
        assert request_fingerprint("POST", "/p", body) == hash_as_before("POST", "/p", body), text


def test_the_canonical_form_sorts_keys_and_writes_decimals_as_their_float():
    parsed = {"b": [Decimal("125.10"), {"d": 1, "c": Decimal("1E-7")}], "a": "x"}
    assert canonical_json(parsed) == b'{"a":"x","b":[125.1,{"c":1e-07,"d":1}]}'


def test_a_body_that_is_not_json_is_hashed_as_its_bytes():
    body = b'{"not": json'
    assert request_fingerprint("POST", "/p", body) == hash_as_before("POST", "/p", body)
    assert parsed_request_fingerprint("POST", "/p", {"a": 1}) != request_fingerprint("POST", "/q", b'{"a":1}')
