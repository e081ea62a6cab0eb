"""Where each answer of an uploaded 271 file is: its transaction set, closed in its own envelope,
parses to the same answer, whatever the delimiters and however the file repeats control numbers."""

from __future__ import annotations

import pytest

from openrcm_eligibility.domain.stored_271 import spans_of_answers, transaction_spans
from openrcm_eligibility.service_layer.response_files import answer_locations
from openrcm_shared.x12.eligibility_271 import parse_271
from services.eligibility.tests.x12_271 import interchange, subscriber, transaction


def own_271s(text: str) -> list[str]:
    answers = list(parse_271(text))
    spans = answer_locations(text, answers)
    return [location["header"] + text[location["start"]:location["end"]] + location["trailer"]
            for location in spans]


def test_each_answer_gets_its_own_transaction_set_which_parses_to_the_same_answer():
    text = interchange(7, transaction("0001", subscriber("A1")),
                       transaction("0002", subscriber("B1"), subscriber("B2", 4, active=False)))
    shown = own_271s(text)
    assert [[a.member_id for a in parse_271(t)] for t in shown] == [["A1"], ["B1", "B2"], ["B1", "B2"]]
    assert [a.status for a in parse_271(shown[2])] == ["active", "inactive"]
    assert "MI*A1" not in shown[1] and shown[0].endswith("GE*1*1~IEA*1*000000007~")


def test_control_numbers_repeated_across_interchanges_are_told_apart_by_counting():
    # ST02 is unique only within a functional group: two interchanges may both hold an ST*271*0001.
    text = interchange(1, transaction("0001", subscriber("A1"), subscriber("A2", 4))) + \
        interchange(2, transaction("0001", subscriber("C1")))
    shown = own_271s(text)
    assert [[a.member_id for a in parse_271(t)] for t in shown] == [["A1", "A2"], ["A1", "A2"], ["C1"]]
    assert "IEA*1*000000002~" in shown[2] and "MI*A1" not in shown[2]


@pytest.mark.parametrize(("element", "terminator", "line_break"), [("|", "\n", ""), ("*", "~", "\r\n")])
def test_other_delimiters_and_line_breaks(element, terminator, line_break):
    text = interchange(3, transaction("0001", subscriber("A1")), transaction("0002", subscriber("B1")),
                       element=element, terminator=terminator, line_break=line_break)
    spans = transaction_spans(text)
    assert [span.control_number for span in spans] == ["0001", "0002"]
    assert [[a.member_id for a in parse_271(t)] for t in own_271s(text)] == [["A1"], ["B1"]]


def test_answers_that_do_not_line_up_are_refused():
    spans = transaction_spans(interchange(1, transaction("0001", subscriber("A1"))) +
                              interchange(2, transaction("0001", subscriber("C1"))))
    with pytest.raises(ValueError):
        spans_of_answers(["0001"], spans, lambda span: 1)
