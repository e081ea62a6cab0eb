"""Batch eligibility: 270s combined into one batch 270 (`combine_270s`), and a batch 271 split into
one 271 per member (`split_271`) that reads exactly as the whole does."""

from __future__ import annotations

from datetime import date

import pytest

from openrcm_shared.x12.eligibility_270 import InquiryPerson, combine_270s, parse_270, write_270
from openrcm_shared.x12.eligibility_271 import parse_271, split_271
from openrcm_shared.x12.reader import X12EnvelopeError, X12Reader, X12StructureError
from shared.tests.unit.x12.test_eligibility_270_271 import ENVELOPE, FULL_BENEFITS, PAYER_AND_PROVIDER, SUBSCRIBER, \
    answer, inquiry
from shared.tests.unit.x12.test_eligibility_271_golden import _response


def test_a_batch_270_asks_everything_its_270s_ask_in_order() -> None:
    singles = [write_270(ENVELOPE, [inquiry(trace_number="T-1")], control_number="0001", reference="R1"),
               write_270(ENVELOPE, [inquiry(trace_number="T-2", dependent=InquiryPerson("DOE", "KID", date(2015, 1, 1)),
                                            relationship="19", service_types=("30",))],
                         control_number="0001", reference="R2"),
               write_270(ENVELOPE, [inquiry(trace_number="T-3", service_types=("98",))], control_number="0001",
                         reference="R3")]
    batch = combine_270s(ENVELOPE, singles, control_number="0007", reference="BATCH")
    segments = list(X12Reader(batch))  # envelope counts checked by the reader
    assert segments[2] == ["ST", "270", "0007", "005010X279A1"] and segments[3][:4] == ["BHT", "0022", "13", "BATCH"]
    hls = [s for s in segments if s[0] == "HL"]
    ids = [int(s[1]) for s in hls]
    assert ids == list(range(1, len(hls) + 1))  # unique, in order
    assert all(not s[2] or int(s[2]) < int(s[1]) for s in hls)  # every parent comes before its child
    combined = [(i.trace_number, i.member_id, i.dependent is not None, i.service_types) for i in parse_270(batch)]
    alone = [(i.trace_number, i.member_id, i.dependent is not None, i.service_types)
             for text in singles for i in parse_270(text)]
    assert combined == alone == [("T-1", "M123", False, ["30", "98"]), ("T-2", "M123", True, ["30"]),
                                 ("T-3", "M123", False, ["98"])]


def test_only_270s_are_combined() -> None:
    with pytest.raises(X12StructureError, match="not a 270"):
        combine_270s(ENVELOPE, [answer(*PAYER_AND_PROVIDER, *SUBSCRIBER)], control_number="1", reference="R")


MEMBERS = [
    *PAYER_AND_PROVIDER, *SUBSCRIBER, *FULL_BENEFITS,
    "HL*4*2*22*1", "NM1*IL*1*TWO*****MI*A2",
    "HL*5*4*23*0", "TRN*2*T-5*9123456789", "NM1*03*1*KID", "EB*6",
    "HL*6*2*22*0", "TRN*2*T-6*9123456789", "NM1*IL*1*THREE*****MI*A3", "EB*1**30",
    # A payer loop answered without a member (AAA 42 at 2100A), then another payer's members.
    "HL*7**20*1", "NM1*PR*2*OTHER PLAN*****PI*OP1", "AAA*Y**42*R",
    "HL*8**20*1", "NM1*PR*2*ACME HEALTH*****PI*ACME1", "HL*9*8*21*1", "NM1*1P*2*CLINIC*****XX*1234567893",
    "HL*10*9*22*0", "TRN*2*T-10*9123456789", "NM1*IL*1*FOUR*****MI*A4", "AAA*Y**75*C",
]


def test_a_batch_271_splits_into_one_271_per_member_that_reads_as_the_whole() -> None:
    whole = answer(*MEMBERS)
    parts = split_271(whole)
    assert len(parts) == 5
    read_alone = [[_response(r) for r in parse_271(part)] for part in parts]
    # Read whole, a payer loop without members answers nothing (the transaction set has answers).
    assert [r for i, part in enumerate(read_alone) if i != 3 for r in part] == \
        [_response(r) for r in parse_271(whole)]
    [payer_only] = read_alone[3]
    assert payer_only["subscriber"] is None and [e["code"] for e in payer_only["errors"]] == ["42"]
    assert [[t.number for r in parse_271(part) for t in r.trace_numbers] for part in parts] == \
        [["TRACE-1"], ["T-5"], ["T-6"], [], ["T-10"]]
    # A member's part holds no other member's segments.
    assert "THREE" not in parts[1] and "DOE" not in parts[2] and "ACME" in parts[4] and "OTHER PLAN" in parts[3]


def test_a_broken_batch_271_is_refused_whole() -> None:
    whole = answer(*MEMBERS).replace("SE*", "SE*1", 1)
    with pytest.raises(X12EnvelopeError):
        split_271(whole)
