"""Statement lines in plain words, and the dunning stages (no I/O)."""

from datetime import date
from decimal import Decimal as D

from openrcm_collections.domain.statements import next_stage, procedure_in_words, reason_in_words, statement_line


def test_lines_say_why_the_patient_owes_in_words_and_balance():
    line = statement_line(service_date=date(2026, 12, 1), provider=None, procedure=procedure_in_words(
        None, "99284", "0450"), charge=D("1200.00"), insurance_paid=D("900.00"), patient_owes=D("60.00"),
        reason=reason_in_words([("coinsurance", "2")]))
    assert line.procedure == "Emergency room (99284)"
    assert line.adjustments == D("240.00") and line.charge == line.insurance_paid + line.adjustments + line.patient_owes
    assert line.reason.startswith("Your coinsurance")
    assert reason_in_words([("other", "96")]) == "A service your plan does not cover"
    # A denial the practice moved to the patient (its ledger entries carry the share kind plan_denied).
    assert reason_in_words([("plan_denied", "")]).startswith("Your plan denied this service")
    assert procedure_in_words(None, "99213", None) == "Office visit (99213)"
    assert procedure_in_words("Blood count", "85025", "0300") == "Blood count"


def test_unpaid_accounts_move_one_stage_per_cycle_unless_held_or_paying():
    stage, seen = None, []
    for _ in range(6):
        stage = next_stage(stage, paid_since_last=False, hold=None)
        seen.append(stage)
    assert seen == ["statement_1", "statement_2", "final_notice", "pre_collection", "agency_placement",
                    "agency_placement"]
    assert next_stage("statement_2", paid_since_last=True, hold=None) == "statement_2"
    assert next_stage("statement_2", paid_since_last=False, hold="payment_plan") == "statement_2"
    assert next_stage("statement_2", paid_since_last=False, hold="bankruptcy") is None
