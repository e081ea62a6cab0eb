"""EFT reassociation rules (CAQH CORE 370): trace number, amount, payer and date window."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from uuid import uuid4

from openrcm_remittance.domain.reassociation import (
    DepositFacts, EraPayment, assess, business_days_apart, reassociate, tin_of,
)

# 2026-11-20 is a Friday.
FRIDAY = date(2026, 11, 20)


def era(amount="1240.17", trace="EFT000123", payer="60054", paid_on=FRIDAY, trn03=None) -> EraPayment:
    return EraPayment(uuid4(), payer, trace, D(amount), paid_on, trn03)


def deposit(amount="1240.17", trace="EFT000123", on=FRIDAY, payer=None, tin=None) -> DepositFacts:
    return DepositFacts(uuid4(), trace, D(amount), on, payer, tin)


def test_business_days_skip_weekends():
    assert business_days_apart(FRIDAY, FRIDAY) == 0
    assert business_days_apart(FRIDAY, date(2026, 11, 23)) == 1  # Friday -> Monday
    assert business_days_apart(date(2026, 11, 25), FRIDAY) == 3  # Wednesday back to Friday: Mon, Tue, Wed
    assert business_days_apart(FRIDAY, date(2026, 12, 4)) == 10  # two weeks
    assert business_days_apart(date(2026, 11, 21), date(2026, 11, 22)) == 0  # Saturday -> Sunday


def test_same_trace_amount_and_date_window_match():
    assert assess(deposit(on=date(2026, 11, 25)), era()) == "match"  # 3 business days after BPR16
    assert assess(deposit(on=date(2026, 11, 26)), era()) == "date_outside_tolerance"  # 4
    assert assess(deposit(trace=" EFT000123 "), era()) == "match"  # whitespace from a bank portal
    assert assess(deposit(trace="EFT000124"), era()) == "other_trace"


def test_amount_must_be_equal_to_the_cent():
    assert assess(deposit(amount="1240.16"), era()) == "amount_mismatch"


def test_payer_is_checked_only_when_both_sides_say():
    assert assess(deposit(payer="60054"), era()) == "match"
    assert assess(deposit(payer="87726"), era()) == "other_payer"
    # TRN03 is "1" + the payer's TIN
    assert assess(deposit(tin="123456789"), era(trn03="1123456789")) == "match"
    assert assess(deposit(tin="987654321"), era(trn03="1123456789")) == "other_payer"
    assert assess(deposit(tin="987654321"), era()) == "match"  # the ERA's TRN03 is not known
    assert tin_of("1123456789") == "123456789" and tin_of("CMS") == "CMS"


def test_a_single_fit_is_matched_and_a_wrong_amount_is_an_exception_with_the_difference():
    the_deposit, right, wrong = deposit(), era(), era(amount="1250.17", payer="87726")
    outcome = reassociate([(the_deposit, wrong), (the_deposit, right)])
    assert outcome.matched == (the_deposit, right)
    [exception] = outcome.discrepancies
    # 1240.17 - 1250.17 = -10.00: the bank received ten dollars less than this ERA explains
    assert (exception.remittance_id, exception.reason, exception.amount_difference) == (wrong.id, "amount_mismatch",
                                                                                       D("-10.00"))


def test_amount_mismatch_alone_is_never_matched():
    the_deposit, the_era = deposit(amount="1200.00"), era()
    outcome = reassociate([(the_deposit, the_era)])
    assert outcome.matched is None
    # 1200.00 - 1240.17 = -40.17
    assert [(d.reason, d.amount_difference) for d in outcome.discrepancies] == [("amount_mismatch", D("-40.17"))]


def test_two_fitting_eras_are_ambiguous_and_neither_is_matched():
    the_deposit, first, second = deposit(), era(payer="60054"), era(payer="87726")
    outcome = reassociate([(the_deposit, first), (the_deposit, second)])
    assert outcome.matched is None
    assert sorted(d.reason for d in outcome.discrepancies) == ["ambiguous", "ambiguous"]


def test_late_deposit_is_an_exception_not_a_match():
    outcome = reassociate([(deposit(on=date(2026, 12, 1)), era())])
    assert outcome.matched is None
    [exception] = outcome.discrepancies
    assert (exception.reason, exception.amount_difference, exception.business_days_apart) == (
        "date_outside_tolerance", D("0.00"), 7)
