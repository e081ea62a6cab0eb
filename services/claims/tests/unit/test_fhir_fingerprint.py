"""The FHIR Claim intake's Idempotency-Key fingerprint is taken from the body it already parsed
(exact decimals) instead of parsing it again: it must be the hash the general path takes from the
bytes, or a retry answered by the other path would be refused as a key reused with another body."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

from openrcm_claims.adapters.fhir.resources import json_body, parse_claim
from openrcm_shared.http.idempotency import parsed_request_fingerprint, request_fingerprint
from tests.fhir_examples import example

SERVED = date.today() - timedelta(days=5)


def as_bytes(body: dict) -> bytes:
    return json.dumps(body, default=float).encode()


def with_numbers_written_oddly(body: dict) -> bytes:
    """The example with its amounts in JSON number forms an EHR may send (trailing zeros, an
    exponent, more digits than a float keeps), spaced and indented."""
    text = json.dumps(body, indent=2, default=float)
    forms = iter(("150.00", "1.5E2", "150.000000000000000000001", "28.50", "2.85e1"))
    return re.sub(r'"value": (\d+\.\d+)', lambda match: f'"value": {next(forms, match.group(1))}', text).encode()


@pytest.mark.parametrize("name", ["professional-claim-contained"])
def test_the_fingerprint_of_the_parsed_claim_is_the_fingerprint_of_its_bytes(name):
    body = example(name, served=SERVED)
    oddly = with_numbers_written_oddly(body)
    assert b"1.5E2" in oddly and b"150.000000000000000000001" in oddly
    for raw in (as_bytes(body), oddly):
        parsed = json_body(raw)
        parse_claim(parsed)  # reading it must leave what was parsed as it was
        assert parsed_request_fingerprint("POST", "/fhir/Claim", parsed) == \
            request_fingerprint("POST", "/fhir/Claim", raw)


@pytest.mark.parametrize("number", ["0.1", "1e-7", "125.10", "1.0E+2", "-0.0", "12345678901234567890.123", "3"])
def test_a_number_read_exactly_hashes_as_the_same_number_read_as_a_float(number):
    raw = f'{{"amount": {number}, "list": [{number}, {{"x": {number}}}]}}'.encode()
    assert parsed_request_fingerprint("POST", "/p", json_body(raw)) == request_fingerprint("POST", "/p", raw)
