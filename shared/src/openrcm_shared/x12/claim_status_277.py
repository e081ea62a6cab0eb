"""277 Health Care Claim Status Response (ASC X12 005010X212): the payer's answer to a 276.

The hierarchy mirrors the 276 (information source 20, receiver 21, provider 19, subscriber 22,
dependent 23). Each claim answered is a 2200D/2200E loop opened by TRN*2 (the trace number the 276
sent in TRN*1), with one or more STC segments: STC01 is the composite category:status[:entity]
(C043; categories from the Health Care Claim Status Category Code list: A acknowledgement,
P pending, F finalized, R request for more information, E error...; statuses from the Health Care
Claim Status Code list), STC02 the status date, STC04 the total charge, STC05 the payment.
REF*1K is the payer's claim control number, REF*EJ the patient control number, DTP*472 the dates
of service; loop 2220 (SVC) answers per service line, with its own STC segments.

`parse_277` reads every 277 of every interchange in a text, with any delimiters; the envelopes are
checked by the project's reader (counts and control numbers), and fails closed: a 277 that is not
X212-shaped raises `Malformed277`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from openrcm_shared.x12._ack_reading import interchanges
from openrcm_shared.x12.acknowledgment_envelope import (
    InterchangeEnvelope, TransactionSetBody, format_amount, format_date, parse_date, render_interchange,
)
from openrcm_shared.x12.reader import element

IMPLEMENTATION_GUIDE = "005010X212"
SOURCE, RECEIVER, PROVIDER, SUBSCRIBER, DEPENDENT = "20", "21", "19", "22", "23"


class Malformed277(ValueError):
    """A 277 this reader cannot read as a claim status response."""


@dataclass(frozen=True)
class StatusCode:
    """One STC01/STC10/STC11 composite: category, status and (optionally) the entity it is about."""

    category: str
    status: str
    entity: str | None = None


@dataclass(frozen=True)
class StatusReport:
    """One STC segment."""

    codes: tuple[StatusCode, ...]  # STC01, then STC10 and STC11 when present
    status_date: date | None
    total_charge: Decimal | None
    paid_amount: Decimal | None
    message: str | None = None

    @property
    def primary(self) -> StatusCode:
        return self.codes[0]


@dataclass
class ServiceLineStatus:
    procedure: str  # SVC01, e.g. HC:99203
    charge: Decimal | None
    paid: Decimal | None
    statuses: list[StatusReport] = field(default_factory=list)


@dataclass
class ClaimStatusAnswer:
    """The payer's answer about one claim (2200D or 2200E)."""

    trace_number: str
    payer_id: str | None
    provider_id: str | None
    member_id: str | None
    statuses: list[StatusReport] = field(default_factory=list)
    payer_claim_control_number: str | None = None
    patient_control_number: str | None = None
    service_date_from: date | None = None
    service_date_to: date | None = None
    service_lines: list[ServiceLineStatus] = field(default_factory=list)

    @property
    def current(self) -> StatusReport:
        """The claim-level status the payer reports first (STC of the claim loop)."""
        return self.statuses[0]


def parse_277(text: str) -> list[ClaimStatusAnswer]:
    """Every claim answered in every 277 of `text`, in file order (all or nothing)."""
    answers: list[ClaimStatusAnswer] = []
    for interchange in interchanges(text):
        for transaction_set in interchange.transaction_sets:
            if transaction_set.transaction_set_id != "277":
                raise Malformed277(f"transaction set {transaction_set.transaction_set_id} is not a 277")
            answers += _TransactionReader(interchange.component_separator).read(transaction_set.segments)
    return answers


def _amount(text: str, what: str) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise Malformed277(f"{what} {text!r} is not a number") from None


class _TransactionReader:
    def __init__(self, component: str) -> None:
        self.component = component
        self.level: str | None = None
        self.payer_id: str | None = None
        self.provider_id: str | None = None
        self.member_id: str | None = None
        self.claim: ClaimStatusAnswer | None = None
        self.line: ServiceLineStatus | None = None
        self.answers: list[ClaimStatusAnswer] = []

    def read(self, segments: list[list[str]]) -> list[ClaimStatusAnswer]:
        for segment in segments:
            handler = getattr(self, f"_{segment[0].lower()}", None)
            if handler is not None:
                handler(segment)
        return self.answers

    def _hl(self, segment: list[str]) -> None:
        self.level = element(segment, 3)
        self.claim = self.line = None
        if self.level not in (SOURCE, RECEIVER, PROVIDER, SUBSCRIBER, DEPENDENT):
            raise Malformed277(f"HL03 {self.level!r} is not a level of a claim status response")

    def _nm1(self, segment: list[str]) -> None:
        entity, identifier = element(segment, 1), element(segment, 9) or None
        if self.level == SOURCE and entity == "PR":
            self.payer_id = identifier
        elif self.level == PROVIDER:
            self.provider_id = identifier
        elif self.level == SUBSCRIBER and entity == "IL":
            self.member_id = identifier

    def _trn(self, segment: list[str]) -> None:
        if self.level not in (SUBSCRIBER, DEPENDENT):
            return  # TRN of the receiver or provider levels: not a claim
        if element(segment, 1) != "2" or not element(segment, 2):
            raise Malformed277("a claim's TRN must be TRN*2 with the trace number")
        self.line = None
        self.claim = ClaimStatusAnswer(trace_number=element(segment, 2), payer_id=self.payer_id,
                                       provider_id=self.provider_id, member_id=self.member_id)
        self.answers.append(self.claim)

    def _stc(self, segment: list[str]) -> None:
        if self.claim is None:
            return  # a status of the receiver or provider level
        codes = tuple(self._composite(element(segment, position)) for position in (1, 10, 11)
                      if element(segment, position))
        if not codes:
            raise Malformed277("STC without a status (STC01)")
        report = StatusReport(codes=codes, status_date=parse_date(element(segment, 2)) if element(segment, 2) else None,
                              total_charge=_amount(element(segment, 4), "STC04"),
                              paid_amount=_amount(element(segment, 5), "STC05"), message=element(segment, 12) or None)
        (self.line.statuses if self.line is not None else self.claim.statuses).append(report)

    def _ref(self, segment: list[str]) -> None:
        if self.claim is None or self.line is not None:
            return
        qualifier, value = element(segment, 1), element(segment, 2) or None
        if qualifier == "1K":
            self.claim.payer_claim_control_number = value
        elif qualifier == "EJ":
            self.claim.patient_control_number = value

    def _dtp(self, segment: list[str]) -> None:
        if self.claim is None or self.line is not None or element(segment, 1) != "472":
            return
        text = element(segment, 3)
        start, _, end = text.partition("-")
        self.claim.service_date_from = parse_date(start)
        self.claim.service_date_to = parse_date(end) if end else self.claim.service_date_from

    def _svc(self, segment: list[str]) -> None:
        if self.claim is None:
            raise Malformed277("SVC outside a claim")
        self.line = ServiceLineStatus(procedure=element(segment, 1), charge=_amount(element(segment, 2), "SVC02"),
                                      paid=_amount(element(segment, 3), "SVC03"))
        self.claim.service_lines.append(self.line)

    def _composite(self, text: str) -> StatusCode:
        parts = text.split(self.component) + ["", ""]
        if not parts[0] or not parts[1]:
            raise Malformed277(f"STC composite {text!r} lacks a category or status code")
        return StatusCode(parts[0], parts[1], parts[2] or None)


# --- writing (the clearinghouse simulator answers 276s with it) ----------------------------------

@dataclass(frozen=True)
class AnsweredClaim:
    """One claim's answer to write: the 276's trace number and what the payer says of the claim."""

    trace_number: str
    member_id: str
    subscriber_last_name: str
    status: StatusCode
    status_date: date
    total_charge: Decimal
    paid_amount: Decimal | None = None
    payer_claim_control_number: str | None = None
    patient_control_number: str | None = None


def build_277(envelope: InterchangeEnvelope, *, payer_name: str, payer_id: str, receiver_name: str, receiver_id: str,
              provider_name: str, provider_npi: str, claims: list[AnsweredClaim], reference: str) -> str:
    """One interchange with one 277 (GS01 HN, BHT02 08) answering `claims` at the claim level."""
    created = envelope.created_at
    segments = [("BHT", ["0010", "08", reference, format_date(created.date()), created.strftime("%H%M"), "DG"]),
                ("HL", ["1", None, SOURCE, "1"]), ("NM1", ["PR", "2", payer_name, None, None, None, None, "PI", payer_id]),
                ("HL", ["2", "1", RECEIVER, "1"]),
                ("NM1", ["41", "2", receiver_name, None, None, None, None, "46", receiver_id]),
                ("HL", ["3", "2", PROVIDER, "1"]),
                ("NM1", ["1P", "2", provider_name, None, None, None, None, "XX", provider_npi])]
    for number, claim in enumerate(claims, start=4):
        code = [claim.status.category, claim.status.status, claim.status.entity]
        paid = None if claim.paid_amount is None else format_amount(claim.paid_amount)
        segments += [("HL", [str(number), "3", SUBSCRIBER, "0"]),
                     ("NM1", ["IL", "1", claim.subscriber_last_name, None, None, None, None, "MI", claim.member_id]),
                     ("TRN", ["2", claim.trace_number]),
                     ("STC", [code, format_date(claim.status_date), None, format_amount(claim.total_charge), paid])]
        if claim.payer_claim_control_number:
            segments.append(("REF", ["1K", claim.payer_claim_control_number]))
        if claim.patient_control_number:
            segments.append(("REF", ["EJ", claim.patient_control_number]))
    return render_interchange(envelope, functional_id="HN", transaction_set_id="277", version=IMPLEMENTATION_GUIDE,
                              transaction_sets=[TransactionSetBody("0001", segments)])
