"""270 Health Care Eligibility Benefit Inquiry (ASC X12 005010X279A1): the writer.

One inquiry per patient, coverage and date of service: loop 2000A/2100A the payer (NM1*PR, PI),
2000B/2100B the provider asking (NM1*1P with the NPI, XX), 2000C/2100C the subscriber (TRN with our
trace number, NM1*IL with the member id, DMG, DTP*291 the date of service, EQ per service type when
the subscriber is the patient) and, for a dependent, 2000D/2100D (TRN, NM1*03, DMG, INS*Y with the
relationship, DTP*291, EQ). The envelope is written by `acknowledgment_envelope.render_interchange`
like every outbound X12 here: GS01 HS, GS08 and ST03 005010X279A1, control numbers from the caller.

The payer echoes our TRN (as TRN*2) in its 271, which is how an answer finds its inquiry.
pyx12 4.0 has no 005010 270 map, so the structure is checked by our own reader in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from openrcm_shared.x12.acknowledgment_envelope import (
    InterchangeEnvelope, Segment, TransactionSetBody, UnsafeElement, format_date, parse_date, render_interchange,
)
from openrcm_shared.x12.reader import X12DataError, X12Reader, X12Source, X12StructureError, element

__all__ = ["EligibilityInquiry", "Eligibility270WriteError", "InquiryPerson", "ReceivedInquiry", "combine_270s",
           "parse_270", "write_270"]

IMPLEMENTATION_GUIDE = "005010X279A1"
FUNCTIONAL_ID_270 = "HS"
MAX_SERVICE_TYPES = 99  # X279 2110C EQ: >1 repeat, payers must answer at least 99
# 2100D INS02 individual relationship codes a 270 may send (X279): spouse, child, other adult.
DEPENDENT_RELATIONSHIPS = frozenset({"01", "19", "34"})


class Eligibility270WriteError(ValueError):
    """An inquiry cannot be written; `field` names the input at fault."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True)
class InquiryPerson:
    last_name: str
    first_name: str | None = None
    birth_date: date | None = None
    gender: str | None = None  # F, M, U
    member_id: str | None = None  # required for the subscriber
    middle_name: str | None = None


@dataclass(frozen=True)
class EligibilityInquiry:
    trace_number: str  # TRN02: ours, echoed back in the 271
    payer_id: str
    payer_name: str
    provider_npi: str
    provider_name: str  # organization name (NM102 2)
    subscriber: InquiryPerson
    service_date: date
    service_types: Sequence[str] = ("30",)
    dependent: InquiryPerson | None = None
    relationship: str | None = None  # INS02 of the dependent
    service_date_end: date | None = None


def write_270(envelope: InterchangeEnvelope, inquiries: Sequence[EligibilityInquiry], *, control_number: str,
              reference: str) -> str:
    """One interchange, one functional group, one 270 transaction set holding `inquiries`.

    Raises `Eligibility270WriteError` naming the field (``inquiries[0].subscriber.member_id``) when an
    inquiry lacks what the guide requires or holds a delimiter; nothing is returned then."""
    if not inquiries:
        raise Eligibility270WriteError("inquiries", "a 270 needs at least one inquiry")
    created = envelope.created_at
    segments: list[Segment] = [("BHT", ["0022", "13", reference, format_date(created), created.strftime("%H%M")])]
    hl = 0
    for index, inquiry in enumerate(inquiries):
        hl = _inquiry_segments(segments, inquiry, f"inquiries[{index}]", hl)
    try:
        return render_interchange(envelope, functional_id=FUNCTIONAL_ID_270, transaction_set_id="270",
                                  version=IMPLEMENTATION_GUIDE,
                                  transaction_sets=[TransactionSetBody(control_number, segments)])
    except UnsafeElement as exc:
        # Name the segment, not the value: it is a patient's name or member id.
        segment_id = str(exc).split(":", 1)[0]
        raise Eligibility270WriteError("inquiries", f"an element of {segment_id} holds an X12 delimiter "
                                                    "(* : ^ ~) or a line break") from None


def combine_270s(envelope: InterchangeEnvelope, inquiries: Sequence[str], *, control_number: str,
                 reference: str) -> str:
    """One batch 270 interchange asking everything the given 270s ask, in their order.

    `inquiries` are interchanges written by `write_270` (each checked by the reader as it is read).
    Their HL loops (2000A..2000D, each inquiry with its own payer and provider levels, as
    `write_270` writes them) are copied as they are, with HL01/HL02 renumbered so the ids stay
    unique in the one transaction set; TRNs are kept, so each answer of the batch 271 finds its
    inquiry by its trace number. Raises `X12Error` when one of them is not a 270."""
    if not inquiries:
        raise Eligibility270WriteError("inquiries", "a 270 needs at least one inquiry")
    created = envelope.created_at
    segments: list[Segment] = [("BHT", ["0022", "13", reference, format_date(created), created.strftime("%H%M")])]
    offset = 0
    for text in inquiries:
        offset = _copy_hierarchy(segments, text, offset)
    return render_interchange(envelope, functional_id=FUNCTIONAL_ID_270, transaction_set_id="270",
                              version=IMPLEMENTATION_GUIDE, transaction_sets=[TransactionSetBody(control_number,
                                                                                                 segments)])


def _copy_hierarchy(segments: list[Segment], text: str, offset: int) -> int:
    """Append the HL loops of the 270 `text` with their ids moved up by `offset`; the new offset."""
    reader = X12Reader(text)
    highest, inside = offset, False
    for segment in reader:
        segment_id = segment[0]
        if segment_id == "ST":
            if element(segment, 1) != "270":
                raise reader.error(X12StructureError, "transaction set is not a 270", 1, "ST")
            inside = True
        elif segment_id == "SE":
            inside = False
        elif inside and segment_id == "HL":
            if not all(part.isdigit() for part in segment[1:3] if part):
                raise reader.error(X12DataError, "HL01 and HL02 must be numbers", 1, "HL")
            own, parent = int(element(segment, 1)) + offset, element(segment, 2)
            highest = max(highest, own)
            segments.append(("HL", [str(own), str(int(parent) + offset) if parent else None, *segment[3:]]))
        elif inside and segment_id != "BHT":
            segments.append((segment_id, segment[1:]))
    return highest


def _inquiry_segments(segments: list[Segment], inquiry: EligibilityInquiry, where: str, hl: int) -> int:
    _check(inquiry, where)
    payer_hl, provider_hl, subscriber_hl = hl + 1, hl + 2, hl + 3
    dependent = inquiry.dependent
    segments += [
        ("HL", [str(payer_hl), None, "20", "1"]),
        ("NM1", ["PR", "2", inquiry.payer_name, None, None, None, None, "PI", inquiry.payer_id]),
        ("HL", [str(provider_hl), str(payer_hl), "21", "1"]),
        ("NM1", ["1P", "2", inquiry.provider_name, None, None, None, None, "XX", inquiry.provider_npi]),
        ("HL", [str(subscriber_hl), str(provider_hl), "22", "1" if dependent else "0"]),
    ]
    subscriber = inquiry.subscriber
    if dependent is None:
        segments.append(_trn(inquiry))
    segments.append(_nm1("IL", subscriber, subscriber.member_id))
    segments.extend(_dmg(subscriber))
    if dependent is None:
        segments.extend(_benefit_request(inquiry))
        return subscriber_hl
    segments += [("HL", [str(subscriber_hl + 1), str(subscriber_hl), "23", "0"]), _trn(inquiry),
                 _nm1("03", dependent, None)]
    segments.extend(_dmg(dependent))
    segments.append(("INS", ["Y", inquiry.relationship]))
    segments.extend(_benefit_request(inquiry))
    return subscriber_hl + 1


def _check(inquiry: EligibilityInquiry, where: str) -> None:
    if not inquiry.trace_number or len(inquiry.trace_number) > 50:
        raise Eligibility270WriteError(f"{where}.trace_number", "1 to 50 characters (TRN02)")
    if not (len(inquiry.provider_npi) == 10 and inquiry.provider_npi.isdigit()):
        raise Eligibility270WriteError(f"{where}.provider_npi", "an NPI is 10 digits")
    if not inquiry.subscriber.member_id:
        raise Eligibility270WriteError(f"{where}.subscriber.member_id", "the subscriber's member id is required")
    if inquiry.dependent is not None and inquiry.relationship not in DEPENDENT_RELATIONSHIPS:
        raise Eligibility270WriteError(f"{where}.relationship", "a dependent's relationship is 01, 19 or 34")
    if not inquiry.service_types or len(inquiry.service_types) > MAX_SERVICE_TYPES:
        raise Eligibility270WriteError(f"{where}.service_types", f"1 to {MAX_SERVICE_TYPES} service types")
    if inquiry.service_date_end is not None and inquiry.service_date_end < inquiry.service_date:
        raise Eligibility270WriteError(f"{where}.service_date_end", "before the service date")


def _trn(inquiry: EligibilityInquiry) -> Segment:
    # TRN03: a 10-character originating company id; "9" marks a user-assigned one (X279 2000C TRN03),
    # here the provider's NPI, so each practice's traces are its own.
    return ("TRN", ["1", inquiry.trace_number, "9" + inquiry.provider_npi[:9]])


def _nm1(entity: str, person: InquiryPerson, member_id: str | None) -> Segment:
    return ("NM1", [entity, "1", person.last_name, person.first_name, person.middle_name, None, None,
                    "MI" if member_id else None, member_id])


def _dmg(person: InquiryPerson) -> list[Segment]:
    if person.birth_date is None:
        return []
    return [("DMG", ["D8", format_date(person.birth_date), person.gender])]


def _benefit_request(inquiry: EligibilityInquiry) -> list[Segment]:
    if inquiry.service_date_end is not None and inquiry.service_date_end != inquiry.service_date:
        period: Segment = ("DTP", ["291", "RD8", f"{format_date(inquiry.service_date)}-"
                                                 f"{format_date(inquiry.service_date_end)}"])
    else:
        period = ("DTP", ["291", "D8", format_date(inquiry.service_date)])
    return [period, *(("EQ", [code]) for code in inquiry.service_types)]


# ------------------------------------------------------------------------------------------- reading


@dataclass
class ReceivedInquiry:
    """One inquiry of a 270 as a payer (the simulator) reads it: who is asked about, for what."""

    transaction_set_control_number: str
    reference: str | None
    payer_id: str | None
    provider_id: str | None
    trace_number: str | None
    member_id: str | None
    subscriber: InquiryPerson | None
    dependent: InquiryPerson | None
    service_date: date | None
    service_types: list[str]


def parse_270(source: X12Source, **reader_options) -> list[ReceivedInquiry]:
    """Every inquiry of every 270 in `source` (envelopes checked by the reader).

    Raises an `X12Error` subclass naming the segment when the file is not a 270 or an element the
    answer needs (member id, date) cannot be read."""
    reader = X12Reader(source, **reader_options)
    inquiries: list[ReceivedInquiry] = []
    control, reference, payer, provider = "", None, None, None
    current: ReceivedInquiry | None = None
    for segment in reader:
        segment_id = segment[0]
        if segment_id == "ST":
            if segment[1] != "270":
                raise reader.error(X12StructureError, "transaction set is not a 270", 1, "ST")
            control = segment[2]
        elif segment_id == "BHT":
            reference = element(segment, 3) or None
        elif segment_id == "HL":
            level = element(segment, 3)
            if level in ("22", "23"):
                if level == "22" or current is None:
                    current = ReceivedInquiry(control, reference, payer, provider, None, None, None, None, None, [])
                    inquiries.append(current)
        elif segment_id == "NM1":
            entity = element(segment, 1)
            if entity == "PR":
                payer = element(segment, 9) or None
            elif entity == "1P":
                provider = element(segment, 9) or None
            elif current is not None and entity in ("IL", "03"):
                person = InquiryPerson(element(segment, 3), element(segment, 4) or None,
                                       member_id=element(segment, 9) or None)
                if entity == "IL":
                    current.subscriber, current.member_id = person, person.member_id
                else:
                    current.dependent = person
        elif segment_id == "TRN" and current is not None:
            current.trace_number = element(segment, 2) or None
        elif segment_id == "DMG" and current is not None and element(segment, 2):
            person = current.dependent or current.subscriber
            if person is not None:
                birth = _read_date(reader, segment, 2, element(segment, 2))
                updated = InquiryPerson(person.last_name, person.first_name, birth, element(segment, 3) or None,
                                        person.member_id)
                if current.dependent is not None:
                    current.dependent = updated
                else:
                    current.subscriber = updated
        elif segment_id == "DTP" and current is not None and element(segment, 1) == "291":
            current.service_date = _read_date(reader, segment, 3, element(segment, 3)[:8])
        elif segment_id == "EQ" and current is not None:
            current.service_types.append(element(segment, 1))
    return inquiries


def _read_date(reader: X12Reader, segment: list[str], position: int, text: str) -> date:
    try:
        return parse_date(text)
    except ValueError:
        raise reader.error(X12DataError, "date must be CCYYMMDD", position, segment[0]) from None
