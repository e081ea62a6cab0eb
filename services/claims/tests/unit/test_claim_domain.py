"""The claim state machine, identifiers and intake validation (no I/O)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from openrcm_claims.domain.identifiers import PATIENT_CONTROL_NUMBER_MAX, new_patient_control_number
from openrcm_claims.domain.lifecycle import (
    TRANSITIONS, ClaimStatus, IllegalTransition, check_transition, status_for_outcome,
)
from openrcm_claims.entrypoints.schemas import EncounterIn
from tests.support import encounter


def test_every_status_has_a_row_in_the_transition_table():
    assert set(TRANSITIONS) == set(ClaimStatus)


@pytest.mark.parametrize("current,target", [
    ("submitted", "paid"), ("submitted", "partially_paid"), ("submitted", "denied"),
    ("denied", "paid"), ("partially_paid", "paid"),
    # a reversal (835 CLP02 22) takes the decision back: the claim is with the payer again
    ("paid", "accepted_by_payer"), ("partially_paid", "accepted_by_payer"), ("denied", "accepted_by_payer")])
def test_allowed_transitions(current, target):
    check_transition(ClaimStatus(current), ClaimStatus(target))


@pytest.mark.parametrize("current,target", [("paid", "denied"), ("paid", "submitted"), ("denied", "submitted"),
                                            ("submitted", "submitted")])
def test_illegal_transitions_are_refused(current, target):
    with pytest.raises(IllegalTransition):
        check_transition(ClaimStatus(current), ClaimStatus(target))


def test_outcomes_map_to_statuses():
    assert status_for_outcome("partially_paid") is ClaimStatus.PARTIALLY_PAID
    with pytest.raises(KeyError):
        status_for_outcome("reversed")


def test_patient_control_numbers_fit_clm01_and_do_not_repeat():
    numbers = {new_patient_control_number() for _ in range(5000)}
    assert len(numbers) == 5000
    assert all(len(n) <= PATIENT_CONTROL_NUMBER_MAX and n.isalnum() for n in numbers)


def test_encounter_validation_normalises_codes():
    parsed = EncounterIn.model_validate(encounter())
    assert parsed.diagnosis_codes == ["E119", "I10"]
    assert parsed.consistency_errors() == []


def test_encounter_limits():
    too_many = encounter()
    too_many["lines"] = too_many["lines"] * 500  # 1,000 lines: beyond the 837I's 999, the most one claim carries
    with pytest.raises(ValidationError) as caught:
        EncounterIn.model_validate(too_many)
    assert [tuple(e["loc"]) for e in caught.value.errors()] == [("lines",)]

    body = encounter()
    body["lines"][0]["modifiers"] = ["25", "59", "XS", "GT", "95"]  # five: the 837P carries four
    body["lines"][1]["units"] = 0
    with pytest.raises(ValidationError) as caught:
        EncounterIn.model_validate(body)
    assert {tuple(e["loc"]) for e in caught.value.errors()} == {("lines", 0, "modifiers"), ("lines", 1, "units")}


def test_future_dates_of_service_are_refused():
    body = encounter()
    body["lines"][0]["service_date"] = (date.today() + timedelta(days=1)).isoformat()
    with pytest.raises(ValidationError, match="future"):
        EncounterIn.model_validate(body)
