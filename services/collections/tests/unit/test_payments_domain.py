"""Card numbers refused wherever they hide; payments allocated to named claims or oldest first."""

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from openrcm_collections.domain.allocation import Allocation, OpenBalance, allocate
from openrcm_collections.domain.card_numbers import contains_card_number, luhn_valid


@pytest.mark.parametrize("body", [
    b'{"amount": "10.00", "reference": "4111111111111111"}',  # Visa test number
    b'{"note": "card 4111 1111 1111 1111 exp 12/30"}',  # typed with spaces
    b'{"note": "5500-0000-0000-0004"}',  # with dashes
    b'{"amount": 378282246310005}',  # a JSON number (Amex, 15 digits)
])
def test_a_luhn_valid_13_to_19_digit_run_anywhere_is_a_card_number(body):
    assert contains_card_number(body)


@pytest.mark.parametrize("body", [
    b'{"amount": "1234.56", "reference": "CHK 1042"}',
    b'{"reference": "4111111111111112"}',  # 16 digits, Luhn fails
    b'{"reference": "411111111111"}',  # 12 digits
    b'{"allocate_to": ["12345678-1234-1234-1234-123456789012"]}',  # a UUID of digits is not a card
    b'{"npi": "1234567893"}',
])
def test_other_numbers_are_not_card_numbers(body):
    assert not contains_card_number(body)


def test_luhn():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
OLD, NEW = uuid.uuid4(), uuid.uuid4()
BALANCES = [OpenBalance(NEW, D("50.00"), NOW), OpenBalance(OLD, D("30.00"), NOW - timedelta(days=40))]


def test_oldest_balance_first_and_the_rest_is_a_credit():
    assert allocate(D("100.00"), BALANCES) == [Allocation(OLD, D("30.00")), Allocation(NEW, D("50.00")),
                                               Allocation(None, D("20.00"))]
    assert allocate(D("40.00"), BALANCES) == [Allocation(OLD, D("30.00")), Allocation(NEW, D("10.00"))]


def test_named_claims_only_and_in_the_order_given():
    assert allocate(D("60.00"), BALANCES, [NEW]) == [Allocation(NEW, D("50.00")), Allocation(None, D("10.00"))]


def test_a_payment_larger_than_any_plausible_balance_is_kept_as_a_credit():
    assert allocate(D("9999999.99"), BALANCES)[-1] == Allocation(None, D("9999919.99"))
