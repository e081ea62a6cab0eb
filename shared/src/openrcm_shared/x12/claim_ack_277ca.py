"""277CA Health Care Claim Acknowledgment (ASC X12 005010X214).

The front-end answer to an 837, claim by claim. One transaction set is a hierarchy (HL):

    2000A information source (HL03=20): the clearinghouse or payer; TRN*1, DTP*050 receipt, DTP*009 process
    2000B information receiver (HL03=21): the 837 submitter; TRN*2 = the 837's BHT03, STC, QTY/AMT totals
    2000C billing provider (HL03=19): TRN*1, STC, QTY/AMT totals
    2000D patient (HL03=PT): per claim a 2200D: TRN*2 = CLM01 (patient control number), STC,
          REF*1K payer claim control number, REF*D9 clearinghouse trace number, REF*BLT bill type,
          DTP*472 service dates

STC01 is the composite category:status:entity (C043). Categories A1 (received) and A2 (accepted
into the adjudication system) accept a claim; A3 (returned as unprocessable), A4 (not found),
A6 (rejected for missing information), A7 (rejected for invalid information) and A8 (rejected for
relational field in error) reject it. STC03 is WQ (accept) or U (reject).

`build_277ca` writes one interchange (one 277 per report); `parse_277ca` reads any 277CA, with any
delimiters, into the same dataclasses (service lines of loop 2220D are skipped).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from openrcm_shared.x12.acknowledgment_envelope import (
    InterchangeEnvelope,
    Segment,
    TransactionSetBody,
    format_amount,
    format_date,
    parse_date,
    render_interchange,
)
from openrcm_shared.x12._ack_reading import interchanges
from openrcm_shared.x12.reader import element

IMPLEMENTATION_GUIDE = "005010X214"
FUNCTIONAL_ID_277 = "HN"  # GS01 for health care claim status notifications

ACCEPTED_CATEGORIES = frozenset({"A1", "A2"})
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})

# HL03 hierarchical level codes used by X214.
INFORMATION_SOURCE_LEVEL = "20"
INFORMATION_RECEIVER_LEVEL = "21"
BILLING_PROVIDER_LEVEL = "19"
PATIENT_LEVEL = "PT"


class ActionCode(StrEnum):
    """STC03 (X214): WQ accept, U reject."""

    ACCEPT = "WQ"
    REJECT = "U"


@dataclass(frozen=True)
class ClaimStatus:
    """C043 composite: health care claim status category, status code, entity identifier."""

    category_code: str  # e.g. A2
    status_code: str  # e.g. 20 "accepted for processing", 562 "entity's NPI"
    entity_identifier: str | None = None  # e.g. 85 billing provider

    @property
    def accepted(self) -> bool:
        return self.category_code in ACCEPTED_CATEGORIES

    @property
    def rejected(self) -> bool:
        return self.category_code in REJECTED_CATEGORIES

    def composite(self) -> tuple[str, ...]:
        return (self.category_code, self.status_code, self.entity_identifier or "")

    def __str__(self) -> str:
        return ":".join(part for part in self.composite() if part)


ACCEPTED_BY_CLEARINGHOUSE = ClaimStatus("A1", "20")  # receipt acknowledged, accepted for processing
ACCEPTED_FOR_ADJUDICATION = ClaimStatus("A2", "20")


@dataclass(frozen=True)
class StatusInformation:
    """One STC segment: STC01 (+ STC10, STC11 further statuses), date, action, charges, text."""

    status: ClaimStatus
    action_code: ActionCode
    total_charge: Decimal  # STC04: total submitted charges of what this level covers
    effective_date: date | None = None  # STC02: required at 2200B and 2200D, not used at 2200C
    additional_statuses: tuple[ClaimStatus, ...] = ()  # STC10, STC11
    message: str | None = None  # STC12 (2200D only)

    @property
    def statuses(self) -> tuple[ClaimStatus, ...]:
        return (self.status, *self.additional_statuses)


@dataclass(frozen=True)
class ClaimAcknowledgment:
    """Loops 2000D/2100D/2200D: one claim's front-end outcome."""

    patient_control_number: str  # 2200D TRN02 = CLM01 of the 837
    patient_last_name: str  # 2100D NM103
    member_id: str  # 2100D NM109 (NM108=MI)
    statuses: tuple[StatusInformation, ...]  # 2200D STC, at least one
    service_date_from: date  # 2200D DTP*472
    service_date_to: date | None = None
    patient_first_name: str | None = None
    payer_claim_control_number: str | None = None  # REF*1K
    clearinghouse_trace_number: str | None = None  # REF*D9
    bill_type: str | None = None  # REF*BLT (institutional claims)

    @property
    def accepted(self) -> bool:
        """Accepted when no STC on the claim carries a rejecting category."""
        return not any(status.rejected for stc in self.statuses for status in stc.statuses)

    @property
    def total_charge(self) -> Decimal:
        return self.statuses[0].total_charge


@dataclass(frozen=True)
class BillingProviderAcknowledgment:
    """Loops 2000C/2100C/2200C: a billing provider and its claims."""

    last_or_organization_name: str  # NM103
    identifier: str  # NM109, the NPI when `identifier_qualifier` is XX
    trace_number: str  # 2200C TRN02
    claims: tuple[ClaimAcknowledgment, ...]
    status: StatusInformation | None = None  # 2200C STC (pyx12's X214 map requires it; we always send it)
    entity_type: str = "2"  # NM102: 1 person, 2 organization
    first_name: str | None = None
    identifier_qualifier: str = "XX"  # FI tax id, SV service provider number, XX NPI
    tax_id: str | None = None  # REF*TJ


@dataclass(frozen=True)
class ClaimAcknowledgmentReport:
    """One 277CA transaction set: who answers, to whom, about which 837 batch, claim by claim."""

    reference: str  # BHT03 originator application transaction identifier
    created_at: datetime  # BHT04/BHT05
    information_source_name: str  # 2100A NM103
    information_source_id: str  # 2100A NM109
    source_trace_number: str  # 2200A TRN02
    receipt_date: date  # 2200A DTP*050: when the 837 was received
    process_date: date  # 2200A DTP*009
    receiver_name: str  # 2100B NM103: the 837 submitter
    receiver_id: str  # 2100B NM109 (NM108=46, the submitter's ETIN)
    batch_trace_number: str  # 2200B TRN02: the claim transaction batch number (837 BHT03)
    receiver_status: StatusInformation  # 2200B STC
    providers: tuple[BillingProviderAcknowledgment, ...] = ()
    information_source_entity: str = "AY"  # NM101: AY clearinghouse, PR payer
    information_source_id_qualifier: str = "46"  # NM108: 46 ETIN, FI, PI, XV
    receiver_entity_type: str = "2"

    @property
    def claims(self) -> tuple[ClaimAcknowledgment, ...]:
        return tuple(claim for provider in self.providers for claim in provider.claims)

    def by_patient_control_number(self) -> dict[str, ClaimAcknowledgment]:
        return {claim.patient_control_number: claim for claim in self.claims}


# --------------------------------------------------------------------------------------- build


def build_277ca(envelope: InterchangeEnvelope, reports: Sequence[ClaimAcknowledgmentReport]) -> str:
    """One 277CA interchange, one transaction set per report (ST02 0001, 0002, ...).

    QTY/AMT totals at 2200B and 2200C are computed from the claims (QTY*90/AMT*YU accepted,
    QTY*AA/AMT*YY rejected at 2200B; QTY*QA/QC and AMT*YU/YY at 2200C), only when non-zero.
    """
    bodies = [TransactionSetBody(f"{index:04d}", _report_segments(report, envelope.delimiters.component))
              for index, report in enumerate(reports, start=1)]
    return render_interchange(envelope, functional_id=FUNCTIONAL_ID_277, transaction_set_id="277",
                              version=IMPLEMENTATION_GUIDE, transaction_sets=bodies)


def _report_segments(report: ClaimAcknowledgmentReport, component: str) -> list[Segment]:
    created = report.created_at
    segments: list[Segment] = [("BHT", ["0085", "08", report.reference, format_date(created.date()),
                                        created.strftime("%H%M%S"), "TH"])]
    segments += [
        ("HL", ["1", "", INFORMATION_SOURCE_LEVEL, "1"]),
        ("NM1", [report.information_source_entity, "2", report.information_source_name, "", "", "", "",
                 report.information_source_id_qualifier, report.information_source_id]),
        ("TRN", ["1", report.source_trace_number]),
        ("DTP", ["050", "D8", format_date(report.receipt_date)]),
        ("DTP", ["009", "D8", format_date(report.process_date)]),
        ("HL", ["2", "1", INFORMATION_RECEIVER_LEVEL, "1" if report.providers else "0"]),
        ("NM1", ["41", report.receiver_entity_type, report.receiver_name, "", "", "", "", "46", report.receiver_id]),
        ("TRN", ["2", report.batch_trace_number]),
        _stc(report.receiver_status),
        *_totals(report.claims, ("90", "AA")),
    ]
    hl_number = 2
    for provider in report.providers:
        hl_number += 1
        provider_hl = hl_number
        segments += _provider_segments(provider, provider_hl)
        for claim in provider.claims:
            hl_number += 1
            segments += _claim_segments(claim, hl_number, provider_hl)
    return segments


def _provider_segments(provider: BillingProviderAcknowledgment, hl_number: int) -> list[Segment]:
    segments: list[Segment] = [
        ("HL", [str(hl_number), "2", BILLING_PROVIDER_LEVEL, "1"]),
        ("NM1", ["85", provider.entity_type, provider.last_or_organization_name, provider.first_name, "", "", "",
                 provider.identifier_qualifier, provider.identifier]),
        ("TRN", ["1", provider.trace_number]),
        *([_stc(provider.status)] if provider.status else []),
    ]
    if provider.tax_id:
        segments.append(("REF", ["TJ", provider.tax_id]))
    return segments + _totals(provider.claims, ("QA", "QC"))


def _claim_segments(claim: ClaimAcknowledgment, hl_number: int, parent_hl: int) -> list[Segment]:
    segments: list[Segment] = [
        ("HL", [str(hl_number), str(parent_hl), PATIENT_LEVEL]),  # HL04 is not used at 2000D
        ("NM1", ["QC", "1", claim.patient_last_name, claim.patient_first_name, "", "", "", "MI", claim.member_id]),
        ("TRN", ["2", claim.patient_control_number]),
        *(_stc(status) for status in claim.statuses),
    ]
    for qualifier, value in (("1K", claim.payer_claim_control_number), ("D9", claim.clearinghouse_trace_number),
                             ("BLT", claim.bill_type)):
        if value:
            segments.append(("REF", [qualifier, value]))
    segments.append(("DTP", ["472", *_service_period(claim.service_date_from, claim.service_date_to)]))
    return segments


def _service_period(start: date, end: date | None) -> list[str]:
    if end is None or end == start:
        return ["D8", format_date(start)]
    return ["RD8", f"{format_date(start)}-{format_date(end)}"]


def _stc(information: StatusInformation) -> Segment:
    extra = [status.composite() for status in information.additional_statuses[:2]]
    elements: list = [information.status.composite(),
                      format_date(information.effective_date) if information.effective_date else "",
                      information.action_code.value, format_amount(information.total_charge)]
    if extra or information.message:
        elements += ["", "", "", "", ""]  # STC05-STC09 are not used in X214
        elements += extra + [""] * (2 - len(extra))
        elements.append(information.message or "")
    return ("STC", elements)


def _totals(claims: Iterable[ClaimAcknowledgment], quantity_qualifiers: tuple[str, str]) -> list[Segment]:
    accepted = [claim for claim in claims if claim.accepted]
    rejected = [claim for claim in claims if not claim.accepted]
    segments: list[Segment] = []
    if accepted:
        segments.append(("QTY", [quantity_qualifiers[0], str(len(accepted))]))
    if rejected:
        segments.append(("QTY", [quantity_qualifiers[1], str(len(rejected))]))
    if accepted:
        segments.append(("AMT", ["YU", format_amount(sum((c.total_charge for c in accepted), Decimal(0)))]))
    if rejected:
        segments.append(("AMT", ["YY", format_amount(sum((c.total_charge for c in rejected), Decimal(0)))]))
    return segments


# --------------------------------------------------------------------------------------- parse


class Malformed277CA(ValueError):
    """The text is not a 277CA this parser can read (a level out of order, no TRN, ...)."""


def parse_277ca(text: str) -> list[ClaimAcknowledgmentReport]:
    """Every 277 transaction set of every interchange in `text`, in file order.

    Fails closed, all or nothing: the reader's `X12Error` subclasses for syntax and envelope
    defects, `Malformed277CA` for content it cannot read (both ValueErrors)."""
    reports = []
    for interchange in interchanges(text):
        for transaction_set in interchange.transaction_sets:
            if transaction_set.transaction_set_id != "277":
                raise Malformed277CA(f"transaction set {transaction_set.transaction_set_id} is not a 277")
            reports.append(_ReportParser(interchange.component_separator).parse(transaction_set.segments))
    return reports


@dataclass
class _ProviderInProgress:
    fields: dict
    claims: list[ClaimAcknowledgment] = field(default_factory=list)


class _ReportParser:
    """A small state machine over the HL levels; each segment belongs to the latest HL."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.report: dict = {}
        self.providers: list[_ProviderInProgress] = []
        self.level: str | None = None
        self.patient: dict = {}
        self.claim: dict | None = None
        self.claims_of_patient: list[dict] = []
        self.in_service_line = False

    def parse(self, segments: Iterable[list[str]]) -> ClaimAcknowledgmentReport:
        for position, segment in enumerate(segments, start=2):  # ST is 1
            try:
                self._take(segment)
            except (ValueError, ArithmeticError) as exc:  # a bad date, amount or action code
                if isinstance(exc, Malformed277CA):
                    raise
                raise Malformed277CA(f"segment {position} ({segment[0]}): {type(exc).__name__}") from None
        self._close_patient()
        try:
            return ClaimAcknowledgmentReport(**self.report, providers=tuple(
                BillingProviderAcknowledgment(**provider.fields, claims=tuple(provider.claims))
                for provider in self.providers))
        except TypeError as exc:
            raise Malformed277CA(f"277CA is missing a required part: {exc}") from None

    def _take(self, segment: list[str]) -> None:
        tag = segment[0]
        if tag == "BHT":
            self.report["reference"] = element(segment, 3)
            self.report["created_at"] = _bht_datetime(element(segment, 4), element(segment, 5))
        elif tag == "HL":
            if self.level == PATIENT_LEVEL:
                self._close_patient()
            self.level = element(segment, 3)
            self.in_service_line = False
            if self.level == BILLING_PROVIDER_LEVEL:
                self.providers.append(_ProviderInProgress(fields={}))
        elif self.level == INFORMATION_SOURCE_LEVEL:
            self._source(segment)
        elif self.level == INFORMATION_RECEIVER_LEVEL:
            self._receiver(segment)
        elif self.level == BILLING_PROVIDER_LEVEL:
            self._provider(segment)
        elif self.level == PATIENT_LEVEL:
            self._patient(segment)

    def _source(self, segment: list[str]) -> None:
        tag = segment[0]
        if tag == "NM1":
            self.report.update(information_source_entity=element(segment, 1),
                               information_source_name=element(segment, 3),
                               information_source_id_qualifier=element(segment, 8),
                               information_source_id=element(segment, 9))
        elif tag == "TRN":
            self.report["source_trace_number"] = element(segment, 2)
        elif tag == "DTP" and element(segment, 1) == "050":
            self.report["receipt_date"] = parse_date(element(segment, 3))
        elif tag == "DTP" and element(segment, 1) == "009":
            self.report["process_date"] = parse_date(element(segment, 3))

    def _receiver(self, segment: list[str]) -> None:
        tag = segment[0]
        if tag == "NM1":
            self.report.update(receiver_entity_type=element(segment, 2), receiver_name=element(segment, 3),
                               receiver_id=element(segment, 9))
        elif tag == "TRN":
            self.report["batch_trace_number"] = element(segment, 2)
        elif tag == "STC" and "receiver_status" not in self.report:
            self.report["receiver_status"] = self._status(segment)

    def _provider(self, segment: list[str]) -> None:
        provider = self.providers[-1].fields
        tag = segment[0]
        if tag == "NM1":
            provider.update(entity_type=element(segment, 2), last_or_organization_name=element(segment, 3),
                            first_name=element(segment, 4) or None, identifier_qualifier=element(segment, 8),
                            identifier=element(segment, 9))
        elif tag == "TRN":
            provider["trace_number"] = element(segment, 2)
        elif tag == "STC" and "status" not in provider:
            provider["status"] = self._status(segment)
        elif tag == "REF" and element(segment, 1) == "TJ":
            provider["tax_id"] = element(segment, 2)

    def _patient(self, segment: list[str]) -> None:
        tag = segment[0]
        if tag == "NM1":
            self.patient = {"patient_last_name": element(segment, 3),
                            "patient_first_name": element(segment, 4) or None, "member_id": element(segment, 9)}
        elif tag == "TRN":  # a new 2200D claim under the same patient
            self.in_service_line = False
            self.claim = {"patient_control_number": element(segment, 2), "statuses": []}
            self.claims_of_patient.append(self.claim)
        elif tag == "SVC":  # loop 2220D service line: its STC/REF/DTP are not claim level
            self.in_service_line = True
        elif self.claim is None or self.in_service_line:
            return
        elif tag == "STC":
            self.claim["statuses"].append(self._status(segment))
        elif tag == "REF":
            key = {"1K": "payer_claim_control_number", "D9": "clearinghouse_trace_number",
                   "BLT": "bill_type"}.get(element(segment, 1))
            if key:
                self.claim[key] = element(segment, 2)
        elif tag == "DTP" and element(segment, 1) == "472":
            start, end = _period(element(segment, 2), element(segment, 3))
            self.claim.update(service_date_from=start, service_date_to=end)

    def _close_patient(self) -> None:
        if not self.claims_of_patient:
            return
        if not self.providers:
            raise Malformed277CA("patient level (HL03=PT) outside a billing provider level")
        for claim in self.claims_of_patient:
            try:
                self.providers[-1].claims.append(ClaimAcknowledgment(
                    **self.patient, **{**claim, "statuses": tuple(claim["statuses"])}))
            except TypeError as exc:
                raise Malformed277CA(f"claim {claim.get('patient_control_number')!r} incomplete: {exc}") from None
        self.claims_of_patient = []
        self.claim = None

    def _status(self, segment: list[str]) -> StatusInformation:
        additional = tuple(self._composite(element(segment, position))
                           for position in (10, 11) if element(segment, position))
        return StatusInformation(
            status=self._composite(element(segment, 1)), action_code=ActionCode(element(segment, 3)),
            total_charge=Decimal(element(segment, 4) or "0"),
            effective_date=parse_date(element(segment, 2)) if element(segment, 2) else None,
            additional_statuses=additional, message=element(segment, 12) or None)

    def _composite(self, text: str) -> ClaimStatus:
        parts = text.split(self.component) + ["", ""]
        if not parts[0] or not parts[1]:
            raise Malformed277CA(f"STC composite {text!r} lacks a category or status code")
        return ClaimStatus(parts[0], parts[1], parts[2] or None)


def _bht_datetime(day: str, time: str) -> datetime:
    time = (time + "000000")[:6]
    return datetime.strptime(day + time, "%Y%m%d%H%M%S")


def _period(qualifier: str, text: str) -> tuple[date, date | None]:
    if qualifier == "RD8":
        start, _, end = text.partition("-")
        return parse_date(start), parse_date(end)
    return parse_date(text), None
