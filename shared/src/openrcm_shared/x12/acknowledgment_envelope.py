"""Envelope writing for the acknowledgement builders (999 in `ack_999`, 277CA in `claim_ack_277ca`).

ISA/GS/ST ... SE/GE/IEA per the X12 5010 control segments (ASC X12 TR3s 005010X231A1 and
005010X214, appendix B "EDI control directory"): ISA is fixed width, SE01 counts the segments from
ST to SE inclusive, GE01 counts transaction sets, IEA01 counts functional groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from openrcm_shared.x12.reader import Delimiters

Element = str | Sequence[str] | None
"""One data element: plain text, a composite as its components, or absent (empty)."""


@dataclass(frozen=True)
class InterchangeEnvelope:
    """Who sends an acknowledgement to whom, and its control numbers.

    An acknowledgement goes back the way the original came, so the sender here is the receiver of
    the acknowledged interchange (ISA08/GS03 of the 837 become ISA06/GS02 of the 999 or 277CA).
    """

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    application_sender_code: str
    application_receiver_code: str
    interchange_control_number: int
    group_control_number: int
    created_at: datetime
    usage_indicator: str = "P"  # ISA15: P production, T test
    delimiters: Delimiters = Delimiters()


def format_amount(amount: Decimal) -> str:
    """X12 "R" (decimal) type: cents kept, trailing zeros and a bare decimal point dropped (X12.6)."""
    text = f"{amount.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_date(day: date) -> str:
    return day.strftime("%Y%m%d")


def parse_date(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


class UnsafeElement(ValueError):
    """An element holds a delimiter: X12 has no escape character, so it cannot be written."""


def render_segment(segment_id: str, elements: Iterable[Element], delimiters: Delimiters) -> str:
    """One segment; trailing empty elements (and components) are dropped as X12.6 requires.

    Raises `UnsafeElement` rather than write an element holding one of the delimiters (or a line
    break), which would silently change the segment structure for the reader."""
    rendered = [segment_id]
    for element in elements:
        if element is None:
            rendered.append("")
        elif isinstance(element, str):
            rendered.append(_safe(element, segment_id, delimiters))
        else:
            components = [_safe(component or "", segment_id, delimiters) for component in element]
            rendered.append(delimiters.component.join(components).rstrip(delimiters.component))
    while len(rendered) > 1 and rendered[-1] == "":
        rendered.pop()
    return delimiters.element.join(rendered) + delimiters.segment


def _safe(text: str, segment_id: str, delimiters: Delimiters) -> str:
    # isdisjoint walks the text in C; the test a character at a time in Python was 4 % of the
    # clearinghouse simulator's samples under the intake benchmark (every element of every 277CA).
    if not _forbidden(delimiters).isdisjoint(text):
        raise UnsafeElement(f"{segment_id}: element {text!r} contains a delimiter")
    return text


@lru_cache(maxsize=32)
def _forbidden(delimiters: Delimiters) -> frozenset[str]:
    """What no element may hold: the interchange's delimiters (ISA11's "^" when it has none) and line breaks."""
    return frozenset({delimiters.element, delimiters.component, delimiters.repetition or "^", delimiters.segment,
                      "\r", "\n"})


Segment = tuple[str, Sequence[Element]]
"""A segment to write: its id and its elements (ST and SE are added by `render_interchange`)."""


@dataclass(frozen=True)
class TransactionSetBody:
    control_number: str
    segments: Sequence[Segment]


def render_interchange(envelope: InterchangeEnvelope, *, functional_id: str, transaction_set_id: str,
                       version: str, transaction_sets: Sequence[TransactionSetBody]) -> str:
    """A whole interchange with one functional group holding the given transaction sets."""
    d = envelope.delimiters
    created = envelope.created_at
    out = [_isa(envelope)]
    out.append(render_segment("GS", [functional_id, envelope.application_sender_code,
                                     envelope.application_receiver_code, created.strftime("%Y%m%d"),
                                     created.strftime("%H%M"), str(envelope.group_control_number), "X",
                                     version], d))
    for body in transaction_sets:
        out.append(render_segment("ST", [transaction_set_id, body.control_number, version], d))
        out.extend(render_segment(segment_id, elements, d) for segment_id, elements in body.segments)
        out.append(render_segment("SE", [str(len(body.segments) + 2), body.control_number], d))
    out.append(render_segment("GE", [str(len(transaction_sets)), str(envelope.group_control_number)], d))
    out.append(render_segment("IEA", ["1", f"{envelope.interchange_control_number:09d}"], d))
    return "".join(out)


def _isa(envelope: InterchangeEnvelope) -> str:
    # ISA is fixed width: every element padded to its exact length (X12.5 interchange control).
    d = envelope.delimiters
    created = envelope.created_at
    elements = [
        "00", " " * 10, "00", " " * 10,
        envelope.sender_qualifier, envelope.sender_id.ljust(15)[:15],
        envelope.receiver_qualifier, envelope.receiver_id.ljust(15)[:15],
        created.strftime("%y%m%d"), created.strftime("%H%M"),
        d.repetition or "^", "00501", f"{envelope.interchange_control_number:09d}",
        "0", envelope.usage_indicator, d.component,
    ]
    # ISA11 and ISA16 are the repetition and component separators themselves.
    checked = [e if i in (10, 15) else _safe(e, "ISA", d) for i, e in enumerate(elements)]
    return "ISA" + d.element + d.element.join(checked) + d.segment
