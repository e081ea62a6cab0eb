"""Posting rules on the 835 model; every amount checked by hand in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from openrcm_remittance.domain.ledger import (
    UnbalancedJournal, claim_journal, provider_adjustment_journal, LineMovement,
)
from openrcm_remittance.domain.posting import post_claim
from openrcm_shared.x12.remittance_835 import (
    Adjustment as Adj, AmountReference, ClaimPayment, EntityName, ProcedureCode, RemarkCode, ServiceLine,
)

DOS = date(2026, 11, 2)


def line(charge, paid, *adjustments, code="99213", modifiers=(), allowed=None, rarcs=(), control=None):
    return ServiceLine(procedure=ProcedureCode("HC", code, tuple(modifiers)), charge=D(charge), paid=D(paid),
                       segment_number=0, service_date=DOS, line_control_number=control, adjustments=list(adjustments),
                       allowed_amount=None if allowed is None else D(allowed),
                       remark_codes=[RemarkCode("HE", r) for r in rarcs])


def claim(status, charge, paid, lines=(), adjustments=(), **extra):
    return ClaimPayment(patient_control_number="RPCN0001", status_code=status, charge=D(charge), paid=D(paid),
                        segment_number=0, service_lines=list(lines), adjustments=list(adjustments), **extra)


def balances(journal) -> dict:
    totals: dict = {}
    for entry in journal:
        totals[entry.account] = totals.get(entry.account, D(0)) + entry.amount
    return totals


def test_paid_line_with_contractual_adjustment_and_coinsurance():
    # 125.00 charged; CO-45 25.00 over the fee schedule; PR-2 20.00 coinsurance -> paid 80.00, allowed 100.00
    posting = post_claim(claim("1", "125.00", "80.00", [line("125.00", "80.00", Adj("CO", "45", D("25.00")),
                                                             Adj("PR", "2", D("20.00")))]), [1])
    assert posting.outcome == "paid"
    assert (posting.allowed_amount, posting.paid_amount, posting.patient_responsibility_amount) == (
        D("100.00"), D("80.00"), D("20.00"))
    assert [(s.kind, s.carc, s.amount) for s in posting.patient_shares] == [("coinsurance", "2", D("20.00"))]
    assert balances(posting.journal) == {"insurance_receivable": D("-125.00"), "payer_payment": D("80.00"),
                                         "contractual_adjustment": D("25.00"), "patient_responsibility": D("20.00")}
    assert sum(e.amount for e in posting.journal) == 0


def test_deductible_copay_and_coinsurance_are_told_apart():
    # 200.00: CO-45 50.00; PR-1 100.00 deductible, PR-3 10.00 copay, PR-2 8.00 coinsurance -> paid 32.00
    posting = post_claim(claim("1", "200.00", "32.00", [line(
        "200.00", "32.00", Adj("CO", "45", D("50.00")), Adj("PR", "1", D("100.00")), Adj("PR", "3", D("10.00")),
        Adj("PR", "2", D("8.00")))]), [1])
    assert {s.kind: s.amount for s in posting.patient_shares} == {
        "deductible": D("100.00"), "copay": D("10.00"), "coinsurance": D("8.00")}
    assert posting.patient_responsibility_amount == D("118.00")  # 100 + 10 + 8
    assert posting.allowed_amount == D("150.00")  # paid 32 + patient 118


def test_deductible_only_line_is_not_a_denial():
    # 90.00 all to deductible (PR-1): paid 0, but the payer denied nothing
    posting = post_claim(claim("1", "90.00", "0.00", [line("90.00", "0.00", Adj("PR", "1", D("90.00")))]), [1])
    assert posting.outcome == "paid" and posting.denied_items == ()
    assert posting.patient_responsibility_amount == D("90.00")


def test_partially_paid_claim_with_a_denied_line_names_carc_and_rarc():
    # line 1: 125.00 - CO45 25.00 - PR2 20.00 = 80.00; line 2: 15.50 - CO97 15.50 = 0.00 (denied, M15)
    posting = post_claim(claim("1", "140.50", "80.00", [
        line("125.00", "80.00", Adj("CO", "45", D("25.00")), Adj("PR", "2", D("20.00"))),
        line("15.50", "0.00", Adj("CO", "97", D("15.50")), code="36415", rarcs=("M15",))]), [1, 2])
    assert posting.outcome == "partially_paid"
    assert [(d.line_number, d.group_code, d.carc, d.rarcs, d.amount) for d in posting.denied_items] == [
        (2, "CO", "97", ("M15",), D("15.50"))]
    assert posting.denied_amount == D("15.50")


def test_claim_denied_by_status_4_at_claim_level():
    # CLP02 4: 300.00 charged, CO-50 300.00 at claim level, MOA remark N115 -> nothing paid, all denied
    from openrcm_shared.x12.remittance_835 import OutpatientAdjudication
    posting = post_claim(claim("4", "300.00", "0.00", adjustments=[Adj("CO", "50", D("300.00"))],
                               outpatient=OutpatientAdjudication(remark_codes=("N115",))), [])
    assert posting.outcome == "denied"
    assert [(d.line_number, d.carc, d.rarcs, d.amount) for d in posting.denied_items] == [
        (None, "50", ("N115",), D("300.00"))]
    assert balances(posting.journal) == {"insurance_receivable": D("-300.00"), "contractual_adjustment": D("300.00")}


def test_reversal_posts_the_mirror_image():
    # CLP02 22 reverses a 100.00 claim paid 72.00 with CO-45 10.00 and PR-2 18.00: every amount negated
    posting = post_claim(claim("22", "-100.00", "-72.00", [line(
        "-100.00", "-72.00", Adj("CO", "45", D("-10.00")), Adj("PR", "2", D("-18.00")))]), [1])
    assert posting.outcome == "reversed" and posting.is_reversal
    assert balances(posting.journal) == {"insurance_receivable": D("100.00"), "payer_payment": D("-72.00"),
                                         "contractual_adjustment": D("-10.00"), "patient_responsibility": D("-18.00")}
    assert posting.denied_items == ()


def test_crossover_claim_is_a_normal_payment():
    # CLP02 19: processed as primary and forwarded; 100.00 - CO45 20.00 - PR1 30.00 = 50.00
    posting = post_claim(claim("19", "100.00", "50.00", [line("100.00", "50.00", Adj("CO", "45", D("20.00")),
                                                              Adj("PR", "1", D("30.00")))],
                               crossover_carrier=EntityName("TT", "2", "SECONDARY PLAN", identifier="99999")), [1])
    assert posting.outcome == "paid" and posting.paid_amount == D("50.00")


def test_not_our_claim_relieves_nothing():
    # CLP02 23 with no adjustments: nothing paid, nothing adjusted; the receivable stays open
    posting = post_claim(claim("23", "150.00", "0.00"), [])
    assert posting.outcome == "not_our_claim"
    assert all(entry.amount == 0 for entry in posting.journal)


def test_claim_level_adjustment_and_interest_amount():
    # line 100.00 paid 100.00; claim-level OA-23 5.00 (prior payer) -> CLP04 95.00; AMT*I interest carried
    posting = post_claim(claim("1", "100.00", "95.00", [line("100.00", "100.00")],
                               adjustments=[Adj("OA", "23", D("5.00"))],
                               amounts=[AmountReference("I", D("1.25"))]), [1])
    assert balances(posting.journal) == {"insurance_receivable": D("-100.00"), "payer_payment": D("95.00"),
                                         "other_adjustment": D("5.00")}


def test_allowed_amount_from_amt_b6_when_sent():
    posting = post_claim(claim("1", "125.00", "80.00", [line("125.00", "80.00", Adj("CO", "45", D("25.00")),
                                                             Adj("PR", "2", D("20.00")), allowed="100.00")]), [1])
    assert posting.lines[0].allowed_amount == D("100.00")


def test_unbalanced_journal_is_refused():
    with pytest.raises(UnbalancedJournal):
        claim_journal(D("100.00"), D("90.00"), [LineMovement(1, D("100.00"), D("90.00"), (("CO", "45", D("5.00")),))],
                      ())


def test_provider_adjustments_move_the_payment():
    # PLB: WO 25.00 recouped (payer keeps it), L6 -3.10 interest (payer adds it): payment moves by -21.90
    entries = provider_adjustment_journal([("WO", "ICN1", D("25.00")), ("L6", None, D("-3.10"))])
    assert balances(entries) == {"provider_adjustment": D("21.90"), "payer_payment": D("-21.90")}
