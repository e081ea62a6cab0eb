"""Line matching: REF*6R first, then exact facts, never a guess."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from openrcm_remittance.domain.matching import (
    BilledLine, match_lines,
)
from openrcm_shared.x12.line_control import line_control_number, line_number_from_control
from openrcm_shared.x12.remittance_835 import ClaimPayment, ProcedureCode, ServiceLine

PCN = "RABCDEFGH12345678"
DOS = date(2026, 11, 2)
BILLED = [BilledLine(1, "99213", ("25",), D(1), D("125.00"), DOS),
          BilledLine(2, "36415", (), D(1), D("15.50"), DOS),
          BilledLine(3, "81002", (), D(1), D("15.50"), DOS)]


def svc(code, charge, modifiers=(), control=None, original=None, service_date=DOS):
    return ServiceLine(procedure=ProcedureCode("HC", code, tuple(modifiers)), charge=D(charge), paid=D(0),
                       segment_number=0, service_date=service_date, line_control_number=control,
                       original_procedure=original)


def era_claim(*lines):
    return ClaimPayment(patient_control_number=PCN, status_code="1", charge=D(0), paid=D(0), segment_number=0,
                        service_lines=list(lines))


def test_line_control_number_round_trip():
    assert line_control_number(PCN, 7) == PCN + "007"
    assert line_number_from_control(PCN, PCN + "007") == 7
    assert line_number_from_control(PCN, "OTHER007") is None
    assert line_number_from_control(PCN, PCN + "7") is None


def test_ref_6r_wins_even_when_the_payer_changed_the_code():
    matching = match_lines(era_claim(svc("99212", "125.00", control=PCN + "001")), PCN, BILLED)
    assert matching.line_numbers == [1] and matching.complete


def test_without_ref_6r_exact_facts_match():
    matching = match_lines(era_claim(svc("36415", "15.50")), PCN, BILLED)
    assert matching.line_numbers == [2]


def test_dropped_modifier_still_matches_on_procedure_date_and_charge():
    matching = match_lines(era_claim(svc("99213", "125.00")), PCN, BILLED)
    assert matching.line_numbers == [1]


def test_svc06_original_code_is_used_for_matching():
    matching = match_lines(era_claim(svc("99212", "125.00", original=ProcedureCode("HC", "99213", ("25",)))),
                           PCN, BILLED)
    assert matching.line_numbers == [1]


def test_two_fitting_lines_are_not_guessed():
    ambiguous = BILLED + [BilledLine(4, "36415", (), D(1), D("15.50"), DOS)]
    matching = match_lines(era_claim(svc("36415", "15.50")), PCN, ambiguous)
    assert matching.line_numbers == [None]
    (unmatched,) = matching.unmatched
    assert [c.line_number for c in unmatched.candidates][:2] == [2, 4]
    assert unmatched.candidates[0].score == unmatched.candidates[1].score == 1.0


def test_unknown_line_goes_to_review_with_scored_candidates():
    matching = match_lines(era_claim(svc("36415", "16.00", service_date=date(2026, 11, 3))), PCN, BILLED)
    (unmatched,) = matching.unmatched
    assert unmatched.candidates[0].line_number == 2
    assert unmatched.candidates[0].agrees_on == ("procedure", "modifiers")


def test_manual_match_is_taken_as_given():
    matching = match_lines(era_claim(svc("36415", "16.00")), PCN, BILLED, manual={0: 3})
    assert matching.line_numbers == [3] and matching.complete
