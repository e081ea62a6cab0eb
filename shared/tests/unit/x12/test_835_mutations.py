"""Fuzzing the 835 parser: any edit of a good 835 is read, or refused with an X12Error naming the
segment. Anything else escaping the parser would reach the remittance API as a 500 (only X12
errors become a stored, `rejected` file and a 422)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from openrcm_shared.x12.reader import X12Error
from openrcm_shared.x12.remittance_835 import parse_835, parse_claim_fragment, stream_835_fragments
from shared.tests.unit.x12.x12_test_support import CLAIM_835, HEADER_835, interchange

# Two claims (one with two lines and a claim-level CAS), an institutional MIA/MOA and a PLB: most loops.
_BODY = [*CLAIM_835, "LX*2", "CLP*PCN2*2*250*150*50*12*ICN2", "NM1*QC*1*ROE*RICH****MI*W456",
         "MIA*0***12.5", "MOA***MA01", "CAS*PR*1*50", "SVC*HC:99214:25*200*120**1", "DTM*472*20260221",
         "CAS*CO*45*80", "SVC*HC:93000*50*30**1", "DTM*472*20260221", "CAS*CO*45*20", "REF*6R*PCN2-2",
         "PLB*1234567893*20261231*L6:INT1*-5.00"]
SEGMENTS = [*HEADER_835[1:], *_BODY]  # ST is kept: the envelope builder needs its control number

# Values that have broken parsers: numbers X12 does not allow or PostgreSQL cannot hold, impossible
# dates, delimiters inside elements, Unicode, blanks, very long text.
ODD_VALUES = st.one_of(
    st.sampled_from(["", " ", "-", ".", "1E3", "NaN", "+5", "-0", "9" * 40, "0." + "0" * 40 + "1",
                     "99991231", "00000000", "20261399", "2026022", "*", ":", "^", "~", "\n", "\x00",
                     "é", "\u202e", "\U0001f4b8", "A" * 5000, "CLP", "SVC", "LX", "SE", "ST"]),
    st.text(max_size=12), st.from_regex(r"-?[0-9]{0,16}(\.[0-9]{0,6})?", fullmatch=True))


@st.composite
def edited_835(draw) -> str:
    segments = [segment.split("*") for segment in SEGMENTS]
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(segments) - 1))
        edit = draw(st.sampled_from(["element", "drop", "repeat", "truncate", "swap"]))
        if edit == "element":
            segment = segments[index]
            position = draw(st.integers(1, len(segment) + 2))
            segment.extend([""] * (position + 1 - len(segment)))
            segment[position] = draw(ODD_VALUES)
        elif edit == "drop":
            del segments[index]
        elif edit == "repeat":
            segments.insert(index, list(segments[index]))
        elif edit == "truncate":
            segments[index] = segments[index][:draw(st.integers(1, len(segments[index])))]
        elif edit == "swap":
            other = draw(st.integers(0, len(segments) - 1))
            segments[index], segments[other] = segments[other], segments[index]
        if not segments:
            segments = [["LX", "1"]]
    return interchange([HEADER_835[0], *("*".join(segment) for segment in segments)])


_SETTINGS = settings(max_examples=200, derandomize=True, database=None, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_SETTINGS
@given(edited_835())
def test_an_edited_835_is_read_or_refused_as_x12(text):
    try:
        for remittance in parse_835(text):
            assert remittance.claims is not None
    except X12Error:
        pass


@_SETTINGS
@given(edited_835())
def test_an_edited_835_is_read_or_refused_as_x12_when_claims_are_posted_in_fragments(text):
    # The remittance service's path for an ERA: envelope and header here, claims parsed per fragment.
    try:
        for stream in stream_835_fragments(text, batch_size=1):
            for fragment in stream.claims:
                parse_claim_fragment(fragment)
    except X12Error:
        pass
