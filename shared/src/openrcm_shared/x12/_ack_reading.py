"""Envelope walking shared by the acknowledgement parsers (999, 277CA), on the project's reader.

`X12Reader` tokenizes (ISA-driven delimiters, any separators) and checks every envelope as it
closes (IEA/GE/SE counts and control numbers): a broken envelope raises an `X12EnvelopeError`, so an
acknowledgement whose trailers do not add up is never half-applied. This module only groups the
segments: interchange -> transaction sets -> the segments between ST and SE. Acknowledgements are
small, so each interchange is collected whole before it is handed on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from openrcm_shared.x12.reader import X12Reader, element


@dataclass
class ParsedTransactionSet:
    transaction_set_id: str  # ST01
    control_number: str  # ST02
    implementation_reference: str  # ST03
    group_control_number: str  # GS06 of the enclosing group
    segments: list[list[str]] = field(default_factory=list)  # between ST and SE, exclusive


@dataclass
class ParsedInterchange:
    control_number: str  # ISA13
    sender_id: str  # ISA06, trimmed
    receiver_id: str  # ISA08, trimmed
    component_separator: str  # ISA16
    transaction_sets: list[ParsedTransactionSet] = field(default_factory=list)


def interchanges(text: str) -> Iterator[ParsedInterchange]:
    """Each interchange of `text` once its IEA has been read and checked."""
    reader = X12Reader(text)
    current: ParsedInterchange | None = None
    transaction_set: ParsedTransactionSet | None = None
    for segment in reader:
        tag = segment[0]
        if tag == "ISA":
            current = ParsedInterchange(element(segment, 13), element(segment, 6).strip(),
                                        element(segment, 8).strip(), reader.delimiters.component)
        elif tag == "ST":
            transaction_set = ParsedTransactionSet(element(segment, 1), element(segment, 2), element(segment, 3),
                                                   reader.group_control_number or "")
            current.transaction_sets.append(transaction_set)
        elif tag == "SE":
            transaction_set = None
        elif tag == "IEA":
            yield current
            current = None
        elif transaction_set is not None:
            transaction_set.segments.append(segment)
