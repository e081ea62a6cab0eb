"""The denial case state machine: the moves a billing team makes, and the ones it must not."""

import pytest

from openrcm_denials.domain.case_status import (
    RESOLVED, TRANSITIONS, UNRESOLVED, CaseStatus, IllegalCaseTransition, check_transition,
)


def test_every_status_has_its_moves_listed() -> None:
    assert set(TRANSITIONS) == set(CaseStatus)
    assert UNRESOLVED | RESOLVED == set(CaseStatus) and not UNRESOLVED & RESOLVED


@pytest.mark.parametrize("path", [
    ["open", "in_progress", "waiting_on_clinical", "in_progress", "appealed", "won", "open"],
    ["open", "corrected_resubmitted", "partially_won", "appealed", "lost", "written_off"],
    ["open", "appealed", "lost", "appealed", "won"],
    ["in_progress", "closed_payer_reversed"],
])
def test_a_worked_case_moves_along(path: list[str]) -> None:
    for current, target in zip(path, path[1:]):
        check_transition(CaseStatus(current), CaseStatus(target))


@pytest.mark.parametrize("current,target", [
    ("closed_payer_reversed", "open"), ("won", "appealed"), ("open", "open"), ("appealed", "appealed"),
    ("written_off", "appealed"), ("won", "written_off"),
])
def test_refused_moves(current: str, target: str) -> None:
    with pytest.raises(IllegalCaseTransition):
        check_transition(CaseStatus(current), CaseStatus(target))
