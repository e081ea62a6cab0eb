"""Where each answer of an uploaded 271 file is in it: the ST..SE transaction set that holds it, so
a check can show its own 271 out of a file stored once (service_layer.response_files).

A check's 271 is its interchange and group headers (ISA, GS) as the file has them, its transaction
set, and a trailer closing them around that one set (GE*1*<GS06>, IEA*1*<ISA13>): a valid 271 that
our reader, and any other, parses to the same answer. The file has been read whole by the 271
parser before this runs (a malformed file never gets here), so the scan below only finds segment
boundaries; it does not validate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# ISA is fixed-width up to ISA16 (the component separator), then the segment terminator; the
# element separator is the character after "ISA" (X12.5 interchange control structure).
_ISA_ELEMENTS = 16
_ISA13 = 13
_GS06 = 6
_ST02 = 2


@dataclass(frozen=True)
class TransactionSpan:
    """One ST..SE of a file: its characters [start, end) (terminator included), the ISA and GS
    segments it sits under, the trailer that closes them around it alone, and its ST02."""

    header: str
    start: int
    end: int
    trailer: str
    control_number: str

    def location(self) -> dict:
        """What a check stores to find its 271 in the stored file."""
        return {"header": self.header, "start": self.start, "end": self.end, "trailer": self.trailer}


def _delimiters(text: str, isa: int) -> tuple[str, str, int]:
    """(element separator, segment terminator, end of the ISA segment) of the interchange at `isa`."""
    separator = text[isa + 3]
    position = isa
    for _ in range(_ISA_ELEMENTS):
        position = text.index(separator, position + 1)
    terminator_at = position + 2  # past ISA16, one character
    return separator, text[terminator_at], terminator_at + 1


def transaction_spans(text: str) -> list[TransactionSpan]:
    """Every ST..SE of the file, in order, with the envelope it sits in."""
    spans: list[TransactionSpan] = []
    position = 0
    while (isa := text.find("ISA", position)) >= 0:
        separator, terminator, isa_end = _delimiters(text, isa)
        isa_segment = text[isa:isa_end]
        interchange = isa_segment[:-1].split(separator)[_ISA13]
        # Only the envelope segments matter: found by their ids right after a terminator (line
        # breaks between segments allowed), each read to its own terminator.
        boundaries = re.compile(rf"{re.escape(terminator)}\s*(GS|ST|SE|IEA){re.escape(separator)}")
        group_segment = group = set_start = set_number = None
        position = len(text)
        for found in boundaries.finditer(text, isa_end - 1):
            start = found.start(1)
            end = text.find(terminator, start)
            end = len(text) if end < 0 else end + 1
            segment_id = found.group(1)
            if segment_id == "GS":
                group_segment, group = text[start:end], text[start:end - 1].split(separator)[_GS06]
            elif segment_id == "ST":
                set_start, set_number = start, text[start:end - 1].split(separator)[_ST02]
            elif segment_id == "SE" and set_start is not None:
                trailer = f"GE{separator}1{separator}{group}{terminator}IEA{separator}1{separator}{interchange}{terminator}"
                spans.append(TransactionSpan(isa_segment + (group_segment or ""), set_start, end, trailer, set_number))
                set_start = None
            elif segment_id == "IEA":
                position = end
                break
    return spans


def spans_of_answers(control_numbers: Sequence[str], spans: Sequence[TransactionSpan],
                     answers_in: Callable[[TransactionSpan], int]) -> list[TransactionSpan]:
    """The transaction set of each answer, given the answers' ST02s in file order (as the 271
    parser yields them). When every set has its own ST02 that settles it; ST02 is unique only
    within a functional group, so when two sets share one, each set's answers are counted
    (`answers_in`, parsing that set alone) and the answers are dealt out in order."""
    numbers = [span.control_number for span in spans]
    if len(set(numbers)) == len(numbers):
        by_number = {span.control_number: span for span in spans}
        return [by_number[number] for number in control_numbers]
    located: list[TransactionSpan] = []
    for span in spans:
        located.extend([span] * answers_in(span))
    if len(located) != len(control_numbers) or any(
            span.control_number != number for span, number in zip(located, control_numbers)):
        raise ValueError("the answers do not line up with the file's transaction sets")
    return located
