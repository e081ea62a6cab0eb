"""276 Health Care Claim Status Request (ASC X12 005010X212): asking a payer where a claim is.

One transaction set is a hierarchy (HL), each level under the one before:

    2000A information source (HL03=20): the payer, NM1*PR (NM108 PI, its payer id)
    2000B information receiver (HL03=21): who asks and gets the 277 back, NM1*41 (NM108 46, ETIN)
    2000C service provider (HL03=19): NM1*1P (NM108 XX, the billing NPI)
    2000D subscriber (HL03=22): DMG when the subscriber is the patient, NM1*IL (NM108 MI, member id)
      2200D claim status tracking: TRN*1 (our trace number, echoed in the 277's TRN*2),
            REF*1K payer claim control number, REF*EJ patient control number (CLM01),
            AMT*T3 total claim charge, DTP*472 service dates (D8 or RD8)
    2000E dependent (HL03=23), when the patient is not the subscriber: DMG, NM1*QC, then its 2200E

`build_276` writes one interchange with one 276 per batch (a payer and a provider); the envelope
and control numbers are the caller's, as for the 837 (see `acknowledgment_envelope`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from openrcm_shared.x12.acknowledgment_envelope import (
    InterchangeEnvelope, Segment, TransactionSetBody, format_amount, format_date, render_interchange,
)

IMPLEMENTATION_GUIDE = "005010X212"
FUNCTIONAL_ID_276 = "HR"  # GS01: health care claim status request
TRACE_MAX = 50  # TRN02 (AN 1/50)


class InquiryContentError(ValueError):
    """An inquiry that cannot be written as a valid 276 (names the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True)
class InquiryPerson:
    """The subscriber (2100D) or the patient as a dependent (2100E)."""

    last_name: str
    first_name: str | None = None
    member_id: str | None = None  # the subscriber's: NM109 with NM108 MI
    birth_date: date | None = None
    gender: str | None = None  # DMG03: F, M, U


@dataclass(frozen=True)
class StatusInquiry:
    """One claim asked about (loop 2200D, or 2200E under a dependent)."""

    trace_number: str
    patient_control_number: str
    total_charge: Decimal
    service_date_from: date
    service_date_to: date | None
    subscriber: InquiryPerson
    patient: InquiryPerson | None = None  # None: the subscriber is the patient
    payer_claim_control_number: str | None = None


@dataclass(frozen=True)
class StatusInquiryBatch:
    """The claims of one provider asked of one payer."""

    payer_name: str
    payer_id: str
    receiver_name: str
    receiver_id: str  # the information receiver's ETIN (NM108 46)
    provider_name: str
    provider_npi: str
    inquiries: Sequence[StatusInquiry]
    reference: str  # BHT03: the submitter's reference for this request


def _check(inquiry: StatusInquiry, index: int) -> None:
    field = f"inquiries[{index}]"
    if not 1 <= len(inquiry.trace_number) <= TRACE_MAX:
        raise InquiryContentError(f"{field}.trace_number", f"1 to {TRACE_MAX} characters")
    if not inquiry.subscriber.member_id:
        raise InquiryContentError(f"{field}.subscriber.member_id", "required (NM109 of loop 2100D)")
    if not 1 <= len(inquiry.patient_control_number) <= 20:
        raise InquiryContentError(f"{field}.patient_control_number", "1 to 20 characters (CLM01)")
    if inquiry.service_date_to is not None and inquiry.service_date_to < inquiry.service_date_from:
        raise InquiryContentError(f"{field}.service_date_to", "before the first date of service")


def _demographics(person: InquiryPerson) -> list[Segment]:
    if person.birth_date is None:
        return []
    return [("DMG", ["D8", format_date(person.birth_date), person.gender])]


def _claim_segments(inquiry: StatusInquiry) -> list[Segment]:
    segments: list[Segment] = [("TRN", ["1", inquiry.trace_number])]
    if inquiry.payer_claim_control_number:
        segments.append(("REF", ["1K", inquiry.payer_claim_control_number]))
    segments.append(("REF", ["EJ", inquiry.patient_control_number]))
    segments.append(("AMT", ["T3", format_amount(inquiry.total_charge)]))
    end = inquiry.service_date_to
    if end is None or end == inquiry.service_date_from:
        segments.append(("DTP", ["472", "D8", format_date(inquiry.service_date_from)]))
    else:
        segments.append(("DTP", ["472", "RD8", f"{format_date(inquiry.service_date_from)}-{format_date(end)}"]))
    return segments


def _person_name(entity: str, person: InquiryPerson, identified: bool) -> Segment:
    identifier = ["MI", person.member_id] if identified else []
    return ("NM1", [entity, "1", person.last_name, person.first_name, None, None, None, *identifier])


def transaction_segments(batch: StatusInquiryBatch, created_at: datetime) -> list[Segment]:
    """The segments of one 276 between ST and SE."""
    for index, inquiry in enumerate(batch.inquiries):
        _check(inquiry, index)
    segments: list[Segment] = [
        ("BHT", ["0010", "13", batch.reference, format_date(created_at.date()), created_at.strftime("%H%M")]),
        ("HL", ["1", None, "20", "1"]), ("NM1", ["PR", "2", batch.payer_name, None, None, None, None, "PI", batch.payer_id]),
        ("HL", ["2", "1", "21", "1"]),
        ("NM1", ["41", "2", batch.receiver_name, None, None, None, None, "46", batch.receiver_id]),
        ("HL", ["3", "2", "19", "1"]),
        ("NM1", ["1P", "2", batch.provider_name, None, None, None, None, "XX", batch.provider_npi]),
    ]
    number = 3
    for inquiry in batch.inquiries:
        number += 1
        subscriber_hl = number
        dependent = inquiry.patient is not None
        segments.append(("HL", [str(subscriber_hl), "3", "22", "1" if dependent else "0"]))
        if not dependent:
            segments += _demographics(inquiry.subscriber)
        segments.append(_person_name("IL", inquiry.subscriber, identified=True))
        if dependent:
            number += 1
            segments.append(("HL", [str(number), str(subscriber_hl), "23"]))
            segments += _demographics(inquiry.patient)
            segments.append(_person_name("QC", inquiry.patient, identified=False))
        segments += _claim_segments(inquiry)
    return segments


def build_276(envelope: InterchangeEnvelope, batches: Sequence[StatusInquiryBatch]) -> str:
    """One interchange: a functional group (GS01 HR) with one 276 per batch, numbered 0001, 0002, ..."""
    bodies = [TransactionSetBody(f"{number:04d}", transaction_segments(batch, envelope.created_at))
              for number, batch in enumerate(batches, start=1)]
    return render_interchange(envelope, functional_id=FUNCTIONAL_ID_276, transaction_set_id="276",
                              version=IMPLEMENTATION_GUIDE, transaction_sets=bodies)
