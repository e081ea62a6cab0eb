"""Reading a received 837 file: envelopes, and per transaction set the claims a 277CA reports on
and an 835 pays.

Only what the acknowledgements and the adjudication need is read:
- ISA/GS/ST identifiers, to address the 999 (and later the 835s) back and to fill AK1/AK2;
- per claim (loop 2300 CLM): CLM01 patient control number, CLM02 charge, CLM05 facility code and
  frequency (the 835 echoes them in CLP08/CLP09; on an 837I they make the bill type), the payer
  (2010BB NM109 and name), the subscriber (2010BA NM109 member id and name, 2000B SBR09 claim
  filing indicator), the patient's name (2010CA, else 2010BA), the billing provider (2010AA name,
  NPI, REF*EI/SY tax id) and service dates (DTP*472 on lines, DTP*434 statement dates);
- per service line (loop 2400): SV1 (837P) or SV2 (837I) procedure, modifiers, revenue code,
  charge and units, DTP*472 and the REF*6R line control number the 835 echoes;
- the segments themselves, so each interchange can be handed to pyx12 on its own.
The same NM1 qualifiers recur inside a claim (2330A other subscriber NM1*IL, 2330B other payer
NM1*PR), so party names are taken only between an HL and the first CLM under it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation

import pyx12.errors
import pyx12.rawx12file

from openrcm_clearinghouse_sim.prior_payers import PriorLineAdjudication, PriorPayer, PriorPayersReader
from openrcm_shared.x12.reader import Delimiters, X12Error, X12Reader, element

Segment = list[str]  # the reader's segment: [segment id, XX01, XX02, ...]

# What we echo back goes into our own X12 (delimiters * : ^ ~); a foreign file with other
# delimiters may carry these characters inside its elements. X12 has no escape: drop them.
_OUR_DELIMITERS = str.maketrans("", "", "*:^~\r\n")


class UnreadableFile(ValueError):
    """Not an X12 interchange the simulator can even address a 999 to (no ISA, bad envelope)."""


@dataclass(frozen=True)
class BillingProviderParty:
    last_or_organization_name: str
    identifier: str  # NPI (NM109 with NM108=XX)
    entity_type: str = "2"
    first_name: str | None = None
    identifier_qualifier: str = "XX"
    tax_id: str | None = None  # 2010AA REF*EI (or SY), the 835 payee's REF*TJ


@dataclass(frozen=True)
class ReceivedServiceLine:
    """Loop 2400: what the 835's loop 2110 echoes about the line."""

    procedure_qualifier: str  # SV101-1 / SV202-1 (HC, ...); NU when an 837I line has only a revenue code
    procedure_code: str  # the HCPCS/CPT code, or the revenue code under NU
    modifiers: tuple[str, ...]
    charge: Decimal  # SV102 / SV203
    units: Decimal  # SV104 / SV205
    revenue_code: str | None = None  # SV201, institutional lines
    service_date_from: date | None = None  # DTP*472
    service_date_to: date | None = None
    line_control_number: str | None = None  # REF*6R
    # Loop 2430: what each earlier payer decided on this line (coordination of benefits).
    prior_adjudications: tuple[PriorLineAdjudication, ...] = ()


@dataclass(frozen=True)
class ReceivedClaim:
    patient_control_number: str
    total_charge: Decimal
    payer_id: str
    member_id: str
    patient_last_name: str
    patient_first_name: str | None
    billing_provider: BillingProviderParty
    service_date_from: date | None
    service_date_to: date | None
    bill_type: str | None = None
    lines: tuple[ReceivedServiceLine, ...] = ()
    facility_code: str | None = None  # CLM05-1: place of service (837P) or facility type (837I)
    frequency_code: str | None = None  # CLM05-3
    claim_filing_indicator: str | None = None  # 2000B SBR09
    payer_name: str = ""  # 2010BB NM103
    subscriber_last_name: str = ""  # 2010BA NM103
    subscriber_first_name: str | None = None
    patient_is_subscriber: bool = True  # False when loop 2000C named a dependent patient
    institutional: bool = False  # an 837I claim
    payer_responsibility: str = "P"  # 2000B SBR01: P primary, S secondary, T tertiary
    prior_payers: tuple[PriorPayer, ...] = ()  # loops 2320/2330B: the earlier payers' claim-level decisions


@dataclass
class ReceivedTransactionSet:
    transaction_set_id: str  # ST01
    control_number: str  # ST02
    implementation_reference: str  # ST03
    reference: str = ""  # BHT03, the submitter's batch reference
    submitter_name: str = ""  # 1000A NM103
    submitter_id: str = ""  # 1000A NM109 (ETIN)
    claims: list[ReceivedClaim] = field(default_factory=list)


@dataclass
class ReceivedGroup:
    functional_id: str  # GS01
    application_sender_code: str  # GS02
    application_receiver_code: str  # GS03
    control_number: str  # GS06
    version: str  # GS08
    transaction_sets: list[ReceivedTransactionSet] = field(default_factory=list)
    declared_transaction_sets: int | None = None  # GE01
    segments: list[Segment] = field(default_factory=list)  # GS .. GE


@dataclass
class ReceivedInterchange:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    control_number: str
    usage_indicator: str
    delimiters: Delimiters
    isa: Segment
    groups: list[ReceivedGroup] = field(default_factory=list)
    iea: Segment | None = None


def read_837_file(raw_x12: bytes) -> list[ReceivedInterchange]:
    """Every interchange of the file with its groups, transaction sets and claims.

    Read with the project's reader first. It fails closed on envelope defects (an SE01 count or a
    trailer control number that does not match); the payer-facing side of this project wants that,
    but a clearinghouse front end must still answer such a file with a 999 that says what is wrong
    (IK5*R*4 for a bad SE01). So on a reader error the file is read again with pyx12's tolerant
    tokenizer, and pyx12's findings on the original text go into the 999. Only a file neither can
    tokenize (no ISA, unknown ISA12) is unreadable."""
    return read_837_file_checked(raw_x12)[0]


def read_837_file_checked(raw_x12: bytes) -> tuple[list[ReceivedInterchange], bool]:
    """`read_837_file`, and whether the project's strict reader read the file without a finding
    (False: it was read with pyx12's tolerant tokenizer instead)."""
    try:
        return _collect(_strict_segments(raw_x12)), True
    except X12Error as strict_failure:
        try:
            return _collect(_tolerant_segments(raw_x12)), False
        except (pyx12.errors.X12Error, UnreadableFile):
            raise UnreadableFile(str(strict_failure)) from None


def _strict_segments(raw_x12: bytes) -> Iterator[tuple[Delimiters, Segment]]:
    reader = X12Reader(raw_x12, encoding="latin-1")  # pyx12 judges the character set, not the intake
    for segment in reader:
        yield reader.delimiters, segment


def _tolerant_segments(raw_x12: bytes) -> Iterator[tuple[Delimiters, Segment]]:
    raw = pyx12.rawx12file.RawX12File(io.StringIO(raw_x12.decode("latin-1").lstrip()))
    segment_terminator, element_separator, component_separator, _, repetition_separator = raw.get_term()
    delimiters = Delimiters(element_separator, component_separator, repetition_separator, segment_terminator)
    for line in raw:
        yield delimiters, line.strip().split(element_separator)


def _collect(segments: Iterator[tuple[Delimiters, Segment]]) -> list[ReceivedInterchange]:
    interchanges: list[ReceivedInterchange] = []
    walker: _ClaimWalker | None = None
    for delimiters, segment in segments:
        walker = _take(segment, delimiters, interchanges, walker)
    if walker is not None:
        walker.close_claim()
    if not interchanges:
        raise UnreadableFile("no ISA segment: not an X12 interchange")
    return interchanges


def _take(segment: Segment, delimiters: Delimiters, interchanges: list[ReceivedInterchange],
          walker: _ClaimWalker | None) -> _ClaimWalker | None:
    tag = segment[0]
    if tag == "ISA":
        interchanges.append(ReceivedInterchange(
            sender_qualifier=_value(segment, 5).strip(), sender_id=_value(segment, 6).strip(),
            receiver_qualifier=_value(segment, 7).strip(), receiver_id=_value(segment, 8).strip(),
            control_number=_value(segment, 13).strip(), usage_indicator=_value(segment, 15).strip() or "P",
            delimiters=delimiters, isa=segment))
        return None
    if not interchanges:
        raise UnreadableFile(f"{tag} before any ISA")
    interchange = interchanges[-1]
    if tag == "IEA":
        interchange.iea = segment
        return None
    if tag == "GS":
        interchange.groups.append(ReceivedGroup(
            functional_id=_value(segment, 1), application_sender_code=_value(segment, 2),
            application_receiver_code=_value(segment, 3), control_number=_value(segment, 6),
            version=_value(segment, 8), segments=[segment]))
        return None
    if not interchange.groups:
        raise UnreadableFile(f"{tag} outside a functional group")
    group = interchange.groups[-1]
    group.segments.append(segment)
    if tag == "GE":
        group.declared_transaction_sets = _int_or_none(_value(segment, 1))
    elif tag == "ST":
        transaction_set = ReceivedTransactionSet(_value(segment, 1), _value(segment, 2),
                                                 _value(segment, 3) or group.version)
        group.transaction_sets.append(transaction_set)
        return _ClaimWalker(transaction_set, delimiters.component)
    elif tag == "SE" and walker is not None:
        walker.close_claim()
        return None
    elif walker is not None:
        walker.take(segment)
    return walker


class _ClaimWalker:
    """Follows the HL hierarchy of one 837 transaction set and collects its claims."""

    def __init__(self, transaction_set: ReceivedTransactionSet, component: str) -> None:
        self.transaction_set = transaction_set
        self.component = component
        self.level: str | None = None
        self.parties_open = False  # between an HL and its first CLM
        self.billing_provider = BillingProviderParty("", "")
        self.payer_id = ""
        self.payer_name = ""
        self.claim_filing_indicator: str | None = None
        self.payer_responsibility = "P"
        self.prior_payers = PriorPayersReader()
        self.subscriber: tuple[str, str, str | None] = ("", "", None)  # member id, last, first
        self.patient: tuple[str, str | None] | None = None
        self.claim: dict | None = None
        self.line: dict | None = None  # the service line (loop 2400) being read
        self.lines: list[ReceivedServiceLine] = []

    def take(self, segment: Segment) -> None:
        tag = segment[0]
        if self.claim is not None:
            self.prior_payers.take(segment, _value)  # 2320/2330B/2430: the earlier payers' decisions
        if tag == "BHT":
            self.transaction_set.reference = _value(segment, 3)
        elif tag == "HL":
            self._hierarchy_level(_value(segment, 3))
        elif tag == "NM1":
            self._name(segment)
        elif tag == "CLM":
            self._claim(segment)
        elif tag == "DTP" and self.claim is not None and _value(segment, 1) in ("472", "434"):
            self._service_dates(_value(segment, 2), _value(segment, 3))
        elif tag == "SBR" and self.parties_open and self.level == "22":  # 2000B, not 2320 (after CLM)
            self.claim_filing_indicator = _value(segment, 9) or None
            self.payer_responsibility = _value(segment, 1) or "P"
        elif tag == "REF":
            self._reference(segment)
        elif self.claim is not None and tag in ("LX", "SV1", "SV2"):
            self._service_line(segment)

    def _hierarchy_level(self, level: str) -> None:
        self.close_claim()
        self.level, self.parties_open = level, True
        if level in ("20", "22"):  # a new billing provider or subscriber: the patient is the subscriber
            self.patient = None

    def _name(self, segment: Segment) -> None:
        entity = _value(segment, 1)
        if entity == "41" and self.level is None:  # 1000A submitter
            self.transaction_set.submitter_name = _value(segment, 3)
            self.transaction_set.submitter_id = _value(segment, 9)
        if not self.parties_open:
            return
        if entity == "85" and self.level == "20":  # 2010AA billing provider
            self.billing_provider = BillingProviderParty(
                last_or_organization_name=_value(segment, 3), identifier=_value(segment, 9),
                entity_type=_value(segment, 2) or "2", first_name=_value(segment, 4) or None,
                identifier_qualifier=_value(segment, 8) or "XX")
        elif entity == "IL" and self.level == "22":  # 2010BA subscriber
            self.subscriber = (_value(segment, 9), _value(segment, 3), _value(segment, 4) or None)
        elif entity == "PR" and self.level == "22":  # 2010BB payer
            self.payer_id = _value(segment, 9)
            self.payer_name = _value(segment, 3)
        elif entity == "QC" and self.level == "23":  # 2010CA patient (a dependent)
            self.patient = (_value(segment, 3), _value(segment, 4) or None)

    def _claim(self, segment: Segment) -> None:
        self.close_claim()
        self.parties_open = False
        facility = [part.translate(_OUR_DELIMITERS) for part in element(segment, 5).split(self.component)]
        institutional = self.transaction_set.implementation_reference.startswith("005010X223")
        bill_type = facility[0] + facility[2] if institutional and len(facility) >= 3 else None
        member_id, subscriber_last, subscriber_first = self.subscriber
        last, first = self.patient or (subscriber_last, subscriber_first)
        self.claim = {
            "patient_control_number": _value(segment, 1), "total_charge": _amount(_value(segment, 2)),
            "payer_id": self.payer_id, "member_id": member_id, "patient_last_name": last,
            "patient_first_name": first, "billing_provider": self.billing_provider, "bill_type": bill_type,
            "service_date_from": None, "service_date_to": None,
            "facility_code": facility[0] or None, "frequency_code": (facility + ["", "", ""])[2] or None,
            "claim_filing_indicator": self.claim_filing_indicator, "payer_name": self.payer_name,
            "subscriber_last_name": subscriber_last, "subscriber_first_name": subscriber_first,
            "patient_is_subscriber": self.patient is None, "institutional": institutional,
            "payer_responsibility": self.payer_responsibility,
        }

    def _service_dates(self, qualifier: str, text: str) -> None:
        try:
            if qualifier == "RD8":
                start_text, _, end_text = text.partition("-")
                start, end = _date(start_text), _date(end_text)
            else:
                start = end = _date(text)
        except ValueError:
            return  # pyx12 reports the bad date; the 277CA only needs the dates that parse
        claim = self.claim
        assert claim is not None
        claim["service_date_from"] = min(filter(None, (claim["service_date_from"], start)))
        claim["service_date_to"] = max(filter(None, (claim["service_date_to"], end)))
        if self.line is not None and qualifier in ("D8", "RD8"):  # DTP*472 of loop 2400
            self.line.update(service_date_from=start, service_date_to=end)

    def _reference(self, segment: Segment) -> None:
        qualifier = _value(segment, 1)
        if qualifier in ("EI", "SY") and self.parties_open and self.level == "20":  # 2010AA tax id
            self.billing_provider = replace(self.billing_provider, tax_id=_value(segment, 2))
        elif qualifier == "6R" and self.line is not None:  # 2400 line item control number
            self.line["line_control_number"] = _value(segment, 2) or None

    def _service_line(self, segment: Segment) -> None:
        tag = segment[0]
        if tag == "LX":
            self._close_line()
            self.line = {}
            self.prior_payers.start_line()
        elif self.line is None:
            return  # SV1/SV2 outside loop 2400: pyx12 reports it
        elif tag == "SV1":  # SV101 composite, SV102 charge, SV104 units
            self.line.update(self._procedure(segment, 1), charge=_amount(_value(segment, 2)),
                             units=_amount(_value(segment, 4)) or Decimal(1))
        else:  # SV2: SV201 revenue code, SV202 composite (optional), SV203 charge, SV205 units
            revenue_code = _value(segment, 1)
            has_procedure = bool(element(segment, 2))
            # Without a HCPCS code the 835 identifies the line by its revenue code (SVC01 NU:<code>).
            procedure = self._procedure(segment, 2) if has_procedure else {
                "procedure_qualifier": "NU", "procedure_code": revenue_code, "modifiers": ()}
            self.line.update(procedure, revenue_code=revenue_code if has_procedure else None,
                             charge=_amount(_value(segment, 3)), units=_amount(_value(segment, 5)) or Decimal(1))

    def _procedure(self, segment: Segment, position: int) -> dict:
        """A C003 composite split by the file's own component separator, each part cleaned."""
        parts = [part.translate(_OUR_DELIMITERS) for part in element(segment, position).split(self.component)]
        parts += ["", ""]
        return {"procedure_qualifier": parts[0], "procedure_code": parts[1],
                "modifiers": tuple(modifier for modifier in parts[2:6] if modifier)}

    def _close_line(self) -> None:
        if self.line is not None and "charge" in self.line:
            self.lines.append(ReceivedServiceLine(**self.line, prior_adjudications=self.prior_payers.line_decisions()))
        self.line = None

    def close_claim(self) -> None:
        self._close_line()
        if self.claim is not None:
            self.transaction_set.claims.append(ReceivedClaim(**self.claim, lines=tuple(self.lines),
                                                             prior_payers=self.prior_payers.claim_decisions()))
            self.claim = None
        self.lines = []
        self.prior_payers = PriorPayersReader()


def _value(segment: Segment, position: int) -> str:
    return element(segment, position).translate(_OUR_DELIMITERS)


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)  # pyx12 rejects the transaction set; nothing reports this claim's charge


def _date(text: str) -> date:
    return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None
