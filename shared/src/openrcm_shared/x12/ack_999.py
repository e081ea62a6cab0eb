"""999 Implementation Acknowledgment for Health Care Insurance (ASC X12 005010X231A1).

A 999 answers one functional group per transaction set (AK1 ... AK9) and, inside it, each received
transaction set (loop 2000: AK2 ... IK5) with the segments in error (loop 2100: IK3) and their data
elements in error (loop 2110: IK4). Statuses:

- IK501 (per transaction set): A accepted, E accepted with errors noted, R rejected
  (X231A1 also lists M, W and X, which no 837 flow here produces);
- AK901 (per functional group): A, E, P partially accepted (some transaction sets rejected), R.

`build_999` writes one; `parse_999` reads one (any delimiters, several groups and interchanges) and
gives, per acknowledged transaction set control number, the status and the IK3/IK4 errors, so the
claims service can tie errors to the claims it sent in that transaction set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from openrcm_shared.x12.acknowledgment_envelope import (
    InterchangeEnvelope,
    Segment,
    TransactionSetBody,
    render_interchange,
)
from openrcm_shared.x12._ack_reading import ParsedInterchange, interchanges
from openrcm_shared.x12.reader import element

IMPLEMENTATION_GUIDE = "005010X231A1"
FUNCTIONAL_ID_999 = "FA"  # GS01 for acknowledgements


class AcknowledgmentCode(StrEnum):
    ACCEPTED = "A"
    ACCEPTED_WITH_ERRORS = "E"
    PARTIALLY_ACCEPTED = "P"  # AK901 only: at least one transaction set was rejected
    REJECTED = "R"
    # IK501 only, security failures (read, never built here): all three reject.
    REJECTED_AUTHENTICATION = "M"  # message authentication code failed
    REJECTED_ASSURANCE = "W"  # assurance failed validity tests
    REJECTED_DECRYPTION = "X"  # content after decryption could not be analyzed

    @property
    def accepted(self) -> bool:
        """A and E let the transaction set's claims go on to the payer (X231A1 IK501 notes)."""
        return self in (AcknowledgmentCode.ACCEPTED, AcknowledgmentCode.ACCEPTED_WITH_ERRORS)


# IK304 implementation segment syntax error codes (X231A1, element 620).
SEGMENT_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "I4", "I6", "I7", "I8", "I9"})
# IK403 implementation data element syntax error codes (X231A1, element 621).
ELEMENT_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "13",
                                 "I6", "I9", "I10", "I11", "I12", "I13"})
SEGMENT_HAS_ELEMENT_ERRORS = "8"  # IK304=8: the IK4s that follow say which elements
SEGMENTS_IN_ERROR = "5"  # IK502=5: one or more segments in error


@dataclass(frozen=True)
class ElementError:
    """IK4 (loop 2110): a data element in error inside the segment named by the IK3 before it."""

    position: int  # IK401-1: element position in the segment
    error_code: str  # IK403
    component_position: int | None = None  # IK401-2
    repeat_position: int | None = None  # IK401-3
    reference_number: str | None = None  # IK402: data element dictionary number, e.g. 1028 for CLM01
    bad_value: str | None = None  # IK404: copy of the bad data element


@dataclass(frozen=True)
class SegmentError:
    """IK3 (loop 2100): a segment in error, by id and position in the transaction set (ST = 1)."""

    segment_id: str  # IK301
    position: int  # IK302
    loop_id: str | None = None  # IK303: the TR3 loop, AN 1/4 (e.g. 2300)
    error_code: str | None = None  # IK304
    element_errors: tuple[ElementError, ...] = ()


@dataclass(frozen=True)
class TransactionSetAcknowledgment:
    """AK2 ... IK5 (loop 2000) for one received transaction set."""

    transaction_set_id: str  # AK201, e.g. 837
    control_number: str  # AK202 = ST02 of the acknowledged transaction set
    status: AcknowledgmentCode  # IK501
    implementation_reference: str | None = None  # AK203 = ST03, e.g. 005010X222A1
    error_codes: tuple[str, ...] = ()  # IK502..IK506
    segment_errors: tuple[SegmentError, ...] = ()


@dataclass(frozen=True)
class FunctionalGroupAcknowledgment:
    """AK1 ... AK9: one 999 transaction set answers one received functional group."""

    functional_id: str  # AK101, HC for claims
    group_control_number: str  # AK102 = GS06 of the acknowledged group
    version: str | None  # AK103 = GS08
    status: AcknowledgmentCode  # AK901
    transaction_sets_included: int  # AK902 = GE01 of the acknowledged group
    transaction_sets_received: int  # AK903
    transaction_sets_accepted: int  # AK904
    transaction_sets: tuple[TransactionSetAcknowledgment, ...] = ()
    error_codes: tuple[str, ...] = ()  # AK905..AK909

    @classmethod
    def summarize(cls, *, functional_id: str, group_control_number: str, version: str | None,
                  transaction_sets: Sequence[TransactionSetAcknowledgment],
                  transaction_sets_included: int | None = None,
                  error_codes: Sequence[str] = ()) -> FunctionalGroupAcknowledgment:
        """AK9 derived from the transaction set answers: counts, and A/E/P/R."""
        accepted = sum(1 for ts in transaction_sets if ts.status.accepted)
        return cls(
            functional_id=functional_id, group_control_number=group_control_number, version=version,
            status=group_status(transaction_sets, group_rejected=bool(error_codes)),
            transaction_sets_included=len(transaction_sets) if transaction_sets_included is None
            else transaction_sets_included,
            transaction_sets_received=len(transaction_sets), transaction_sets_accepted=accepted,
            transaction_sets=tuple(transaction_sets), error_codes=tuple(error_codes))


def group_status(transaction_sets: Sequence[TransactionSetAcknowledgment], *,
                 group_rejected: bool = False) -> AcknowledgmentCode:
    """AK901 from the IK501s: all A -> A; all accepted, some E -> E; none accepted -> R; else P."""
    if group_rejected or not transaction_sets:
        return AcknowledgmentCode.REJECTED
    statuses = {ts.status for ts in transaction_sets}
    if statuses == {AcknowledgmentCode.ACCEPTED}:
        return AcknowledgmentCode.ACCEPTED
    if all(status.accepted for status in statuses):
        return AcknowledgmentCode.ACCEPTED_WITH_ERRORS
    if not any(status.accepted for status in statuses):
        return AcknowledgmentCode.REJECTED
    return AcknowledgmentCode.PARTIALLY_ACCEPTED


@dataclass(frozen=True)
class Acknowledgment999:
    """A parsed 999 interchange: its envelope identifiers and the groups it acknowledges."""

    interchange_control_number: str  # ISA13 of the 999 itself
    sender_id: str  # ISA06
    receiver_id: str  # ISA08
    groups: tuple[FunctionalGroupAcknowledgment, ...] = field(default_factory=tuple)

    @property
    def transaction_sets(self) -> tuple[TransactionSetAcknowledgment, ...]:
        return tuple(ts for group in self.groups for ts in group.transaction_sets)

    def by_control_number(self) -> dict[str, TransactionSetAcknowledgment]:
        """Transaction set answers keyed by the acknowledged ST02 (unique within what we send)."""
        return {ts.control_number: ts for ts in self.transaction_sets}


# --------------------------------------------------------------------------------------- build


def build_999(envelope: InterchangeEnvelope, groups: Sequence[FunctionalGroupAcknowledgment]) -> str:
    """One 999 interchange with one 999 transaction set per acknowledged functional group.

    ST02 of the 999s are 0001, 0002, ... in group order. Nothing is validated here: the caller
    decides the statuses; pyx12 checks the result in the tests.
    """
    bodies = [TransactionSetBody(f"{index:04d}", _group_segments(group))
              for index, group in enumerate(groups, start=1)]
    return render_interchange(envelope, functional_id=FUNCTIONAL_ID_999, transaction_set_id="999",
                              version=IMPLEMENTATION_GUIDE, transaction_sets=bodies)


def _group_segments(group: FunctionalGroupAcknowledgment) -> list[Segment]:
    segments: list[Segment] = [("AK1", [group.functional_id, group.group_control_number, group.version])]
    for transaction_set in group.transaction_sets:
        segments.extend(_transaction_set_segments(transaction_set))
    segments.append(("AK9", [group.status.value, str(group.transaction_sets_included),
                             str(group.transaction_sets_received), str(group.transaction_sets_accepted),
                             *group.error_codes[:5]]))
    return segments


def _transaction_set_segments(transaction_set: TransactionSetAcknowledgment) -> list[Segment]:
    segments: list[Segment] = [("AK2", [transaction_set.transaction_set_id, transaction_set.control_number,
                                        transaction_set.implementation_reference])]
    for segment_error in transaction_set.segment_errors:
        segments.append(("IK3", [segment_error.segment_id, str(segment_error.position), segment_error.loop_id,
                                 segment_error.error_code]))
        segments.extend(_element_error_segment(element_error) for element_error in segment_error.element_errors)
    segments.append(("IK5", [transaction_set.status.value, *transaction_set.error_codes[:5]]))
    return segments


def _element_error_segment(element_error: ElementError) -> Segment:
    position = [str(element_error.position),
                "" if element_error.component_position is None else str(element_error.component_position),
                "" if element_error.repeat_position is None else str(element_error.repeat_position)]
    return ("IK4", [position, element_error.reference_number, element_error.error_code, element_error.bad_value])


# --------------------------------------------------------------------------------------- parse


class Malformed999(ValueError):
    """The text is not a 999 this parser can read (no AK1, an IK4 before any IK3, ...)."""


def parse_999(text: str) -> list[Acknowledgment999]:
    """Every 999 interchange in `text`, in file order (a file usually holds one).

    Fails closed, all or nothing: the reader's `X12Error` subclasses for syntax and envelope
    defects (an SE01 count, an IEA02 that does not repeat ISA13), `Malformed999` for content it
    cannot read. All are ValueErrors; nothing is returned from a file that raises."""
    return [_parse_interchange(interchange) for interchange in interchanges(text)]


def _parse_interchange(interchange: ParsedInterchange) -> Acknowledgment999:
    groups: list[FunctionalGroupAcknowledgment] = []
    for transaction_set in interchange.transaction_sets:
        if transaction_set.transaction_set_id != "999":
            raise Malformed999(f"transaction set {transaction_set.transaction_set_id} is not a 999")
        groups.append(_parse_group(transaction_set.segments, interchange.component_separator))
    return Acknowledgment999(interchange_control_number=interchange.control_number,
                             sender_id=interchange.sender_id, receiver_id=interchange.receiver_id,
                             groups=tuple(groups))


def _parse_group(segments: Iterable[list[str]], component: str) -> FunctionalGroupAcknowledgment:
    try:
        return _parse_group_segments(segments, component)
    except Malformed999:
        raise
    except ValueError as exc:  # an unknown status code, a count or position that is not a number
        raise Malformed999(f"unreadable 999 content: {exc}") from None


def _parse_group_segments(segments: Iterable[list[str]], component: str) -> FunctionalGroupAcknowledgment:
    group: dict | None = None
    transaction_sets: list[TransactionSetAcknowledgment] = []
    current: _TransactionSetInProgress | None = None
    for segment in segments:
        tag = segment[0]
        if tag == "AK1":
            group = {"functional_id": element(segment, 1), "group_control_number": element(segment, 2),
                     "version": element(segment, 3) or None}
        elif tag == "AK2":
            current = _TransactionSetInProgress(element(segment, 1), element(segment, 2), element(segment, 3) or None)
        elif tag == "IK3":
            _require(current, "IK3 outside an AK2 loop").add_segment_error(segment)
        elif tag == "IK4":
            _require(current, "IK4 outside an AK2 loop").add_element_error(segment, component)
        elif tag == "IK5":
            transaction_sets.append(_require(current, "IK5 without AK2").finish(segment))
            current = None
        elif tag == "AK9":
            if group is None:
                raise Malformed999("AK9 without AK1")
            return FunctionalGroupAcknowledgment(
                **group, status=AcknowledgmentCode(element(segment, 1)),
                transaction_sets_included=int(element(segment, 2) or 0),
                transaction_sets_received=int(element(segment, 3) or 0),
                transaction_sets_accepted=int(element(segment, 4) or 0),
                transaction_sets=tuple(transaction_sets),
                error_codes=tuple(code for code in segment[5:10] if code))
    raise Malformed999("999 transaction set without AK1/AK9")


def _require(current: _TransactionSetInProgress | None, message: str) -> _TransactionSetInProgress:
    if current is None:
        raise Malformed999(message)
    return current


class _TransactionSetInProgress:
    """Collects IK3/IK4 of one AK2 loop until its IK5."""

    def __init__(self, transaction_set_id: str, control_number: str, implementation_reference: str | None):
        self.transaction_set_id = transaction_set_id
        self.control_number = control_number
        self.implementation_reference = implementation_reference
        self.segment_errors: list[SegmentError] = []

    def add_segment_error(self, segment: list[str]) -> None:
        self.segment_errors.append(SegmentError(
            segment_id=element(segment, 1), position=int(element(segment, 2) or 0),
            loop_id=element(segment, 3) or None, error_code=element(segment, 4) or None))

    def add_element_error(self, segment: list[str], component: str) -> None:
        if not self.segment_errors:
            raise Malformed999("IK4 before any IK3")
        position = element(segment, 1).split(component)
        element_error = ElementError(
            position=int(position[0]),
            component_position=_optional_int(position, 1), repeat_position=_optional_int(position, 2),
            reference_number=element(segment, 2) or None, error_code=element(segment, 3),
            bad_value=element(segment, 4) or None)
        last = self.segment_errors[-1]
        self.segment_errors[-1] = replace(last, element_errors=last.element_errors + (element_error,))

    def finish(self, segment: list[str]) -> TransactionSetAcknowledgment:
        return TransactionSetAcknowledgment(
            transaction_set_id=self.transaction_set_id, control_number=self.control_number,
            status=AcknowledgmentCode(element(segment, 1)),
            implementation_reference=self.implementation_reference,
            error_codes=tuple(code for code in segment[2:7] if code),
            segment_errors=tuple(self.segment_errors))


def _optional_int(parts: list[str], index: int) -> int | None:
    return int(parts[index]) if len(parts) > index and parts[index] else None
