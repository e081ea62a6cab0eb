"""Money, codes, envelopes, problem pointers, failure classification, cursors."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa_exc

from openrcm_shared.codes import ICD10_CM, PROCEDURE_CODE, normalize_icd10, npi_is_valid
from openrcm_shared.http.pagination import decode_cursor, encode_cursor
from openrcm_shared.http.problems import Problem, json_pointer
from openrcm_shared.messaging.envelope import Envelope, EnvelopeError
from openrcm_shared.messaging.errors import PermanentEventError, is_transient, sanitized_message
from openrcm_shared.money import Money, PositiveMoney, to_cents


class Priced(BaseModel):
    amount: Money


def test_money_is_decimal_in_and_string_out():
    assert Priced.model_validate({"amount": "125.10"}).amount == Decimal("125.10")
    assert Priced.model_validate({"amount": 125}).amount == Decimal("125")
    assert Priced(amount=Decimal("0.1") + Decimal("0.2")).model_dump_json() == '{"amount":"0.30"}'
    assert Priced.model_validate_json('{"amount": "-12.00"}').amount == Decimal("-12.00")


@pytest.mark.parametrize("bad", [125.1, "12.345", "abc", True, "1e20"])
def test_money_refuses_floats_fractions_of_cents_and_junk(bad):
    with pytest.raises(ValidationError):
        Priced.model_validate({"amount": bad})


@pytest.mark.parametrize("bad", ["125.1", '"12.345"', '"abc"', "true", '"1e20"', '"12345678901.00"'])
def test_money_refuses_the_same_in_json(bad):
    with pytest.raises(ValidationError):
        Priced.model_validate_json(f'{{"amount": {bad}}}')


def test_positive_money_and_its_documented_limits():
    class Charged(BaseModel):
        amount: PositiveMoney

    assert Charged.model_validate_json('{"amount": "0.01"}').amount == Decimal("0.01")
    for bad in ('"0.00"', '"-1.00"', '"0.001"'):
        with pytest.raises(ValidationError):
            Charged.model_validate_json(f'{{"amount": {bad}}}')
    schema = Charged.model_json_schema()["properties"]["amount"]
    assert (schema["max_digits"], schema["decimal_places"], schema["gt"]) == (12, 2, 0)
    serialized = Charged.model_json_schema(mode="serialization")["properties"]["amount"]
    assert (serialized["type"], serialized["decimal_places"], serialized["gt"]) == ("string", 2, 0)


def test_cents_round_half_up():
    assert to_cents(Decimal("2.345")) == Decimal("2.35")
    assert to_cents(Decimal("-2.345")) == Decimal("-2.35")


@pytest.mark.parametrize("npi,valid", [("1234567893", True), ("1245319599", True), ("1234567890", False),
                                        ("123456789", False), ("12345678AB", False),
                                        # Unicode digits pass str.isdigit() and the check digit; an 837
                                        # cannot carry them (its ASCII encoding failed every batch round).
                                        ("\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0663", False),
                                        ("123456789\u00b3", False)])
def test_npi_check_digit(npi, valid):
    assert npi_is_valid(npi) is valid


def test_code_formats():
    assert ICD10_CM.match("E11.9") and ICD10_CM.match("S72001A") and ICD10_CM.match("U07.1")
    assert not ICD10_CM.match("7E11") and not ICD10_CM.match("E11.12345")
    assert normalize_icd10("e11.9") == "E119"
    for code in ("99213", "0001F", "0042T", "G0439", "J3490"):
        assert PROCEDURE_CODE.match(code), code
    for code in ("9921", "992134", "W1234", "99-13"):
        assert not PROCEDURE_CODE.match(code), code


def test_envelope_round_trips_through_kafka_headers():
    envelope = Envelope.new(type="org.openrcm.claims.claim_submitted.v1", source="/openrcm/claims",
                            subject="claim-1", tenant_id="practice-1", causation_id="cause-1",
                            traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    headers = envelope.to_headers()
    assert ("ce_specversion", b"1.0") in headers and ("content-type", b"application/json") in headers
    assert Envelope.from_headers(headers) == envelope


def test_envelope_without_required_attributes_is_refused():
    headers = [("ce_specversion", b"1.0"), ("ce_type", b"x")]
    with pytest.raises(EnvelopeError, match="ce_id"):
        Envelope.from_headers(headers)
    with pytest.raises(EnvelopeError, match="malformed"):
        Envelope.from_headers([("ce_specversion", b"1.0"), ("ce_id", b"not-a-uuid"), ("ce_type", b"x"),
                               ("ce_source", b"/s"), ("ce_tenantid", b"t")])


def test_json_pointers_from_validation_locations():
    assert json_pointer(("body", "lines", 0, "charge_amount")) == "/lines/0/charge_amount"
    assert json_pointer(("query", "limit")) == "/query/limit"
    assert json_pointer(("body", "a/b~c")) == "/a~1b~0c"


def test_failure_classification():
    assert is_transient(ConnectionRefusedError())
    assert is_transient(asyncio.TimeoutError())
    assert is_transient(sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    assert not is_transient(PermanentEventError("bad"))
    assert not is_transient(ValueError("x"))


def test_a_deadlock_raised_bare_by_asyncpg_is_transient():
    # The raw asyncpg paths raise asyncpg's own error (not wrapped by SQLAlchemy): a claims webhook
    # answered 500 to a deadlock instead of 503 + Retry-After.
    import asyncpg

    assert is_transient(asyncpg.exceptions.DeadlockDetectedError("deadlock detected"))
    assert is_transient(asyncpg.exceptions.SerializationError("could not serialize access"))
    assert not is_transient(asyncpg.exceptions.UniqueViolationError("duplicate key"))


def test_dlq_messages_carry_no_field_values():
    class Event(BaseModel):
        patient_id: int

    with pytest.raises(ValidationError) as caught:
        Event.model_validate({"patient_id": "Jane Doe 1970-01-01"})
    message = sanitized_message(caught.value)
    assert "patient_id" in message and "Jane" not in message
    assert sanitized_message(KeyError("SSN 123-45-6789")) == "KeyError"


def test_cursors_are_opaque_and_checked():
    cursor = encode_cursor(datetime(2026, 1, 2, tzinfo=timezone.utc), uuid4())
    assert len(decode_cursor(cursor, 2)) == 2
    assert decode_cursor(None, 2) is None
    for bad in ("!!!", encode_cursor("only-one")):
        with pytest.raises(Problem) as problem:
            decode_cursor(bad, 2)
        assert problem.value.status == 400
