"""Posting arithmetic, every amount checked by hand in the comments."""

from __future__ import annotations

from decimal import Decimal as D

from openrcm_remittance.domain.posting import (
    AdjustmentInput as Adj, LineInput, post_claim, post_line, transaction_imbalance,
)


def test_paid_line_with_contractual_and_coinsurance():
    # 125.00 charged; CO-45 25.00 contractual; PR-2 20.00 coinsurance -> paid 80.00, allowed 100.00
    posted, problems = post_line(LineInput(1, D("125.00"), D("80.00"), (Adj("CO", "45", D("25.00")),
                                                                         Adj("PR", "2", D("20.00")))))
    assert problems == []
    assert (posted.allowed_amount, posted.patient_responsibility_amount, posted.denied) == (D("100.00"), D("20.00"),
                                                                                             False)


def test_unbalanced_line_is_reported_with_the_arithmetic():
    _, problems = post_line(LineInput(1, D("125.00"), D("80.01"), (Adj("CO", "45", D("45.00")),)))
    assert [p.path for p in problems] == ["paid_amount"]
    assert "125.00 - adjustments 45.00 = 80.00" in problems[0].message


def test_deductible_only_line_is_not_a_denial():
    # 90.00 all to deductible (PR-1): paid 0, but the payer denied nothing
    posted, _ = post_line(LineInput(1, D("90.00"), D("0.00"), (Adj("PR", "1", D("90.00")),)))
    assert posted.denied is False and posted.patient_responsibility_amount == D("90.00")


def test_partially_paid_claim_with_a_denied_line():
    # line 1: 125.00 - CO45 25.00 - PR2 20.00 = 80.00; line 2: 15.50 - CO97 15.50 = 0.00 (denied, M15)
    posting, problems = post_claim([
        LineInput(1, D("125.00"), D("80.00"), (Adj("CO", "45", D("25.00")), Adj("PR", "2", D("20.00")))),
        LineInput(2, D("15.50"), D("0.00"), (Adj("CO", "97", D("15.50")),), ("M15",)),
    ], [])
    assert problems == []
    assert posting.outcome == "partially_paid"
    assert (posting.charge_amount, posting.allowed_amount, posting.paid_amount) == (D("140.50"), D("100.00"),
                                                                                    D("80.00"))
    assert posting.patient_responsibility_amount == D("20.00")
    assert posting.denied_amount == D("15.50")
    assert [(d.line_number, d.group_code, d.carc, d.rarcs) for d in posting.denied_items] == [(2, "CO", "97",
                                                                                                ("M15",))]
    # every cent of the charge is accounted for: paid + adjustments = charge
    assert posting.paid_amount + sum(a.amount for a in posting.adjustments) == posting.charge_amount


def test_fully_denied_claim():
    posting, _ = post_claim([LineInput(1, D("300.00"), D("0.00"), (Adj("CO", "50", D("300.00")),), ("N115",))], [])
    assert posting.outcome == "denied" and posting.denied_amount == D("300.00") and posting.paid_amount == D("0")


def test_claim_level_adjustment_reduces_the_claim_payment():
    # lines pay 100.00 + 50.00 = 150.00; claim-level OA-23 (prior payer) 30.00 -> claim paid 120.00
    posting, problems = post_claim([
        LineInput(1, D("120.00"), D("100.00"), (Adj("CO", "45", D("20.00")),)),
        LineInput(2, D("50.00"), D("50.00"), ()),
    ], [Adj("OA", "23", D("30.00"))])
    assert problems == [] and posting.paid_amount == D("120.00")


def test_negative_amounts_balance_like_any_other():
    # a recoupment line: charge 0.00, CO-45 +10.00, paid -10.00
    _, problems = post_line(LineInput(1, D("0.00"), D("-10.00"), (Adj("CO", "45", D("10.00")),)))
    assert problems == []


def test_transaction_must_equal_the_sum_of_claim_payments():
    assert transaction_imbalance(D("200.00"), [D("80.00"), D("120.00")]) is None
    imbalance = transaction_imbalance(D("200.01"), [D("80.00"), D("120.00")])
    assert imbalance.path == "payment_amount" and "200.00" in imbalance.message
