"""A 999's IK3 segment positions tied to the claims they concern: a segment in a claim's own
loops (2300/2400) to that claim, one in a subscriber or patient loop (2000B/2000C) to every claim
under that HL, one in the header to every claim of the transaction set."""

from __future__ import annotations

from openrcm_claims.service_layer.acknowledgements import _claims_at_positions
from services.claims.tests.unit.claim_rows import claim_row, render
from tests.support import encounter


def positions(text: str) -> dict[str, list[int]]:
    """Segment id -> positions within the transaction set (ST = 1)."""
    found: dict[str, list[int]] = {}
    segments = [s for s in text.split("~") if s]
    start = next(i for i, s in enumerate(segments) if s.startswith("ST*"))
    for offset, segment in enumerate(segments[start:], start=1):
        found.setdefault(segment.split("*")[0] + ("" if not segment.startswith("NM1") else segment.split("*")[1]),
                         []).append(offset)
    return found


def test_errors_go_to_the_claims_of_the_loop_they_are_in():
    first, second, other_subscriber = encounter(), encounter(), encounter()
    second["coverage"] = first["coverage"]  # the same subscriber: one 2000B, two claims under it
    text = render(claim_row(first, pcn="RFIRST"), claim_row(second, pcn="RSECOND"),
                  claim_row(other_subscriber, pcn="ROTHER"))
    found = positions(text)
    subscriber_n4 = found["N4"][1]  # [0] is the billing provider's, [1] the first subscriber's
    first_line = found["SV1"][0]
    header = found["BHT"][0]
    owners = _claims_at_positions(text, 1, [subscriber_n4, first_line, header])
    assert owners[subscriber_n4] == {"RFIRST", "RSECOND"}
    assert owners[first_line] == {"RFIRST"}
    assert owners[header] == {"RFIRST", "RSECOND", "ROTHER"}
