"""X12 837 health care claim generator: 837P (005010X222A1) and 837I (005010X223A2).

A neutral input model (frozen dataclasses, `Decimal` money, `date`s) and one builder,
`build_837`, that renders a `ClaimBatch` into one interchange (ISA/IEA) holding one functional
group (GS/GE) per claim kind present (professional first, then institutional) and one or more
transaction sets (ST/SE) per group.

Guarantees of `build_837`:
- Pure: no I/O, no clock, no counters. Control numbers are inputs (the claims service persists
  and never reuses them); the same inputs give the same bytes.
- All or nothing: every claim is checked before anything is returned; the first problem raises
  `X12ContentError` (a `ValueError`) naming the claim and the field (`claims[3].subscriber.last_name`).
  X12 has no escape character, so free text holding a delimiter or a character outside the 5010
  extended character set is refused, never rewritten.
- Arithmetic the validators do not check is checked here: CLM02 equals the sum of the line
  charges; on secondary claims each 2430 line balances (SV102/SV203 - line CAS = SVD02) and each
  other payer balances at claim level (CLM02 - claim CAS - line CAS = AMT*D); NPI check digits.
- Loop order, qualifiers and repeat limits follow the TR3 implementation guides (loop ids are
  cited in comments); the output is validated with pyx12 in the tests.

Code-set membership (is this ICD-10-CM code billable, is this CARC current) is not checked here:
that is the scrubber's job. Only the syntax of codes is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Union

from openrcm_shared.codes import (
    CARC, ICD10_CM, MODIFIER, PLACE_OF_SERVICE, PROCEDURE_CODE, normalize_icd10, npi_is_valid,
)

PROFESSIONAL_VERSION = "005010X222A1"
INSTITUTIONAL_VERSION = "005010X223A2"

ELEMENT_SEPARATOR = "*"
COMPONENT_SEPARATOR = ":"
REPETITION_SEPARATOR = "^"
SEGMENT_TERMINATOR = "~"

# TR3 repeat limits of loop 2400 (837P 1.4.1 / 837I 1.4.1): 50 professional lines, 999 institutional.
MAX_PROFESSIONAL_LINES = 50
MAX_INSTITUTIONAL_LINES = 999
# Loop 2300 repeats at most 100 times under one 2000B or 2000C HL.
MAX_CLAIMS_PER_HL = 100
MAX_PROFESSIONAL_DIAGNOSES = 12  # 837P 2300 HI: ABK + 11 ABF
MAX_OTHER_INSTITUTIONAL_DIAGNOSES = 24  # 837I 2300 HI "Other Diagnosis Information", 2 x 12
MAX_OTHER_PAYERS = 10  # loop 2320
MAX_LINE_ADJUDICATIONS = 15  # loop 2430
MAX_CONTROL_NUMBER = 999_999_999

# SBR01 payer responsibility sequence, SBR09 claim filing indicator (both IGs).
PAYER_RESPONSIBILITY_CODES = frozenset("ABCDEFGHPSTU")
CLAIM_FILING_INDICATOR_CODES = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM", "LM", "MA", "MB",
    "MC", "OF", "TV", "VA", "WC", "ZZ",
})
# PAT01 (2000C) and SBR02 of loop 2320: the patient's relationship to the (other) subscriber.
PATIENT_RELATIONSHIP_CODES = frozenset({"01", "19", "20", "21", "39", "40", "53", "G8"})
OTHER_SUBSCRIBER_RELATIONSHIP_CODES = PATIENT_RELATIONSHIP_CODES | {"18"}
GENDER_CODES = frozenset({"F", "M", "U"})
ADJUSTMENT_GROUP_CODES = frozenset({"CO", "CR", "OA", "PI", "PR"})
ASSIGNMENT_PARTICIPATION_CODES = frozenset({"A", "B", "C"})  # CLM07
BENEFITS_ASSIGNMENT_CODES = frozenset({"N", "W", "Y"})  # CLM08, OI03
RELEASE_OF_INFORMATION_CODES = frozenset({"I", "Y"})  # CLM09, OI06
PROFESSIONAL_FREQUENCY_CODES = frozenset({"1", "7", "8"})
# Frequencies that replace or void an earlier claim: REF*F8 carries the payer's claim control number.
CORRECTION_FREQUENCY_CODES = frozenset({"7", "8"})

# The 5010 extended character set (X12.5 / TR3 appendix B) without our four delimiters.
# Anything else (control characters, non-ASCII, a delimiter) is refused.
_OUTSIDE_CHARACTER_SET = re.compile(r"[^A-Za-z0-9!\"&'()+,\-./;?= %@\[\]_{}\\|<>`#$]")
_DELIMITERS = frozenset("*:^~")
# TR3 2010AA N3: "The Billing Provider Address must be a street address. Post Office Box or Lock
# Box addresses are to be sent in the Pay-To Address Loop (Loop ID-2010AB)".
_PO_BOX = re.compile(r"\b(P\s*\.?\s*O\s*\.?\s*BOX|POST\s+OFFICE\s+BOX|POSTAL\s+BOX|LOCK\s*BOX)\b", re.I)
_DIGITS = re.compile(r"[0-9]+")
_STATE = re.compile(r"[A-Z]{2}")
_REVENUE_CODE = re.compile(r"[0-9]{4}")
_TYPE_OF_BILL = re.compile(r"0?([0-9]{2})([0-9A-Z])")
_OCCURRENCE_CODE = re.compile(r"[0-9A-Z]{2}")
_TAXONOMY = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")
_ADMISSION_TYPE = re.compile(r"[1-9]")
_ADMISSION_SOURCE = re.compile(r"[0-9A-Z]")
_PATIENT_STATUS = re.compile(r"[0-9]{2}")
# ISA05/ISA07 interchange id qualifiers accepted by both 837 TR3s.
INTERCHANGE_ID_QUALIFIERS = frozenset({"01", "14", "20", "27", "28", "29", "30", "33", "ZZ"})


class X12ContentError(ValueError):
    """A claim cannot be rendered as X12: `field` names where (`claims[2].lines[0].charge`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    def within(self, prefix: str) -> X12ContentError:
        return X12ContentError(f"{prefix}.{self.field}", self.problem)


class _Memo(dict):  # type: ignore[type-arg]
    """Checked renderings of values that repeat across claims (procedure composites, diagnosis
    codes, pointer lists). Keys are the raw values; bounded by clearing when full."""

    def __init__(self, limit: int = 65_536) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: object, rendered: str) -> str:
        if len(self) >= self.limit:
            self.clear()
        self[key] = rendered
        return rendered


_DIAGNOSES = _Memo()
_PROCEDURES = _Memo()
_POINTERS = _Memo()
_DECIMALS = {2: _Memo(), 3: _Memo()}  # by decimal places allowed: money 2, quantities 3


# --------------------------------------------------------------------------------------------
# Input model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Address:
    """N3/N4. `postal_code` is 5 or 9 digits ("33111-1234" is accepted)."""

    line1: str
    city: str
    state: str
    postal_code: str
    line2: str | None = None


@dataclass(frozen=True, slots=True)
class Submitter:
    """Loop 1000A. `identifier` is the ETIN the receiver assigned (NM109); the interchange and
    application ids default to it."""

    name: str
    identifier: str
    contact_name: str
    contact_phone: str
    contact_email: str | None = None
    interchange_id_qualifier: str = "ZZ"
    interchange_id: str | None = None
    application_code: str | None = None


@dataclass(frozen=True, slots=True)
class Receiver:
    """Loop 1000B (the clearinghouse or payer receiving the file)."""

    name: str
    identifier: str
    interchange_id_qualifier: str = "ZZ"
    interchange_id: str | None = None
    application_code: str | None = None


@dataclass(frozen=True, slots=True)
class BillingProvider:
    """Loop 2000A/2010AA: an organization with a street address (no PO box) and ZIP+4."""

    npi: str
    tax_id: str
    name: str
    address: Address
    taxonomy_code: str | None = None
    tax_id_qualifier: str = "EI"  # EI = EIN; SY = SSN (837P only)


@dataclass(frozen=True, slots=True)
class PayToAddress:
    """Loop 2010AB: where payment goes when not the billing provider's street address."""

    address: Address


@dataclass(frozen=True, slots=True)
class Payer:
    """Loop 2010BB (destination payer) or 2330B (other payer)."""

    name: str
    payer_id: str
    id_qualifier: str = "PI"  # PI = payer id; XV = CMS PlanID


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Loop 2000B/2010BA. `payer_responsibility` (SBR01) is P/S/T for primary, secondary,
    tertiary from the destination payer's point of view."""

    member_id: str
    last_name: str
    first_name: str
    birth_date: date
    gender: str
    address: Address
    payer_responsibility: str = "P"
    claim_filing_indicator: str = "CI"
    group_number: str | None = None
    group_name: str | None = None
    middle_name: str | None = None


@dataclass(frozen=True, slots=True)
class Patient:
    """Loop 2000C/2010CA, used only when the patient is not the subscriber.
    `relationship_to_subscriber` is PAT01 (01 spouse, 19 child, 20 employee, 21 unknown, ...)."""

    last_name: str
    first_name: str
    birth_date: date
    gender: str
    address: Address
    relationship_to_subscriber: str
    middle_name: str | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    """An individual provider: referring (837P 2310A), rendering (837P 2310B), supervising (837P
    2310D), attending (837I 2310A)."""

    npi: str
    last_name: str
    first_name: str
    taxonomy_code: str | None = None
    middle_name: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceFacility:
    """Service facility location: 837P 2310C, 837I 2310E (address must be a street address, ZIP+4)."""

    name: str
    address: Address
    npi: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimAdjustment:
    """One CAS trio: group code (CO/CR/OA/PI/PR), CARC, amount, optional quantity."""

    group_code: str
    reason_code: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OtherSubscriber:
    """Loop 2330A: the subscriber of the other (e.g. primary) coverage."""

    member_id: str
    last_name: str
    first_name: str
    address: Address | None = None
    middle_name: str | None = None


@dataclass(frozen=True, slots=True)
class OtherPayerCoverage:
    """Loop 2320 with 2330A/2330B: another payer's coverage and, on a secondary claim, its
    adjudication at claim level (CAS, AMT*D). Line-level adjudication by this payer goes on the
    service lines (`LineAdjudication.other_payer_id` = `payer.payer_id`)."""

    payer: Payer
    subscriber: OtherSubscriber
    payer_responsibility: str = "P"
    relationship_to_patient: str = "18"  # SBR02: 18 = the patient is this subscriber
    claim_filing_indicator: str = "CI"
    group_number: str | None = None
    payer_paid_amount: Decimal | None = None  # AMT*D
    claim_adjustments: tuple[ClaimAdjustment, ...] = ()
    remaining_patient_liability: Decimal | None = None  # AMT*EAF
    adjudication_date: date | None = None  # 2330B DTP*573, when not reported per line in 2430
    benefits_assigned: str = "Y"  # OI03
    release_of_information: str = "Y"  # OI06


@dataclass(frozen=True, slots=True)
class LineAdjudication:
    """Loop 2430: one other payer's adjudication of one service line."""

    other_payer_id: str  # SVD01, equals the 2330B NM109 of that payer
    paid_amount: Decimal
    adjudication_date: date
    adjustments: tuple[ClaimAdjustment, ...] = ()
    paid_units: Decimal = Decimal(1)
    procedure_code: str | None = None  # defaults to the line's procedure (and modifiers)
    modifiers: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ProfessionalServiceLine:
    """Loop 2400 of the 837P: LX, SV1, DTP*472, REF*6R, loop 2430."""

    procedure_code: str
    charge: Decimal
    service_date: date
    diagnosis_pointers: tuple[int, ...] = (1,)
    modifiers: tuple[str, ...] = ()
    units: Decimal = Decimal(1)
    place_of_service: str | None = None  # SV105, sent only when it differs from the claim's
    service_end_date: date | None = None
    line_control_number: str | None = None  # REF*6R, echoed by the 835 in REF*6R
    adjudications: tuple[LineAdjudication, ...] = ()


@dataclass(frozen=True, slots=True)
class InstitutionalServiceLine:
    """Loop 2400 of the 837I: LX, SV2, DTP*472, REF*6R, loop 2430."""

    revenue_code: str
    charge: Decimal
    units: Decimal = Decimal(1)
    unit_basis: str = "UN"  # UN = unit, DA = days (room and board)
    procedure_code: str | None = None
    modifiers: tuple[str, ...] = ()
    service_date: date | None = None
    service_end_date: date | None = None
    line_control_number: str | None = None
    adjudications: tuple[LineAdjudication, ...] = ()


@dataclass(frozen=True, slots=True)
class Occurrence:
    """837I 2300 HI*BH: an occurrence code with its date."""

    code: str
    occurred_on: date


@dataclass(frozen=True, slots=True)
class ProfessionalClaim:
    """One 837P claim (loop 2300) with the parties above it in the HL hierarchy."""

    billing_provider: BillingProvider
    subscriber: Subscriber
    payer: Payer
    patient_control_number: str
    total_charge: Decimal
    place_of_service: str
    diagnosis_codes: tuple[str, ...]
    lines: tuple[ProfessionalServiceLine, ...]
    patient: Patient | None = None
    pay_to: PayToAddress | None = None
    frequency_code: str = "1"
    payer_claim_control_number: str | None = None
    provider_signature_on_file: bool = True
    assignment_participation: str = "A"
    benefits_assigned: str = "Y"
    release_of_information: str = "Y"
    prior_authorization: str | None = None
    referral_number: str | None = None
    medical_record_number: str | None = None
    referring_provider: Provider | None = None
    rendering_provider: Provider | None = None
    service_facility: ServiceFacility | None = None
    other_payers: tuple[OtherPayerCoverage, ...] = ()
    supervising_provider: Provider | None = None  # 2310D


@dataclass(frozen=True, slots=True)
class InstitutionalClaim:
    """One 837I claim (loop 2300). `type_of_bill` is facility type + frequency, "0131" or "131";
    CLM05 is sent as facility type : A : frequency."""

    billing_provider: BillingProvider
    subscriber: Subscriber
    payer: Payer
    patient_control_number: str
    total_charge: Decimal
    type_of_bill: str
    statement_from: date
    statement_to: date
    principal_diagnosis: str
    patient_status_code: str  # CL103
    lines: tuple[InstitutionalServiceLine, ...]
    patient: Patient | None = None
    pay_to: PayToAddress | None = None
    admission_type_code: str | None = None  # CL101 (required on inpatient claims)
    admission_source_code: str | None = None  # CL102
    admitted_at: date | datetime | None = None  # DTP*435: D8, or DT with the hour when a datetime
    discharge_hour: time | None = None  # DTP*096 TM (hour and minute of discharge, inpatient)
    admitting_diagnosis: str | None = None  # HI*ABJ (inpatient)
    reason_for_visit: tuple[str, ...] = ()  # HI*APR, up to 3 (unscheduled outpatient)
    other_diagnoses: tuple[str, ...] = ()  # HI*ABF, up to 24
    occurrences: tuple[Occurrence, ...] = ()  # HI*BH, up to 24
    payer_claim_control_number: str | None = None
    assignment_participation: str = "A"
    benefits_assigned: str = "Y"
    release_of_information: str = "Y"
    prior_authorization: str | None = None
    referral_number: str | None = None
    medical_record_number: str | None = None
    attending_provider: Provider | None = None
    service_facility: ServiceFacility | None = None
    other_payers: tuple[OtherPayerCoverage, ...] = ()

    @property
    def frequency_code(self) -> str:
        return self.type_of_bill[-1:]


Claim = Union[ProfessionalClaim, InstitutionalClaim]


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    """What one interchange carries: a submitter, a receiver and the claims (either kind).
    `reference` is BHT03 of every transaction set; by default ISA13 + ST02, unique per set, which
    is what 999 and 277CA acknowledgments point back to."""

    submitter: Submitter
    receiver: Receiver
    claims: tuple[Claim, ...]
    reference: str | None = None


# --------------------------------------------------------------------------------------------
# Element formatting and checks
# --------------------------------------------------------------------------------------------


def _text(value: object, field: str, max_length: int) -> str:
    """Free text or an identifier for one element: required, trimmed, within the length and the
    character set. X12 has no escape mechanism, so a delimiter in the data is refused."""
    if not isinstance(value, str):
        raise X12ContentError(field, f"must be text, got {type(value).__name__}")
    if value[:1] == " " or value[-1:] == " ":
        value = value.strip(" ")  # X12.6: leading/trailing spaces are not transmitted
    if not value:
        raise X12ContentError(field, "is required")
    if len(value) > max_length:
        raise X12ContentError(field, f"is {len(value)} characters long; the element allows at most {max_length}")
    bad = _OUTSIDE_CHARACTER_SET.search(value)
    if bad is not None:
        character = bad.group()
        if character in _DELIMITERS:
            raise X12ContentError(field, f"contains {character!r}, which is an X12 delimiter in this interchange")
        raise X12ContentError(field, f"contains {character!r} (U+{ord(character):04X}), outside the X12 character set")
    return value


def _optional_text(value: str | None, field: str, max_length: int) -> str:
    return "" if value is None else _text(value, field, max_length)


def _code(value: object, allowed: frozenset[str], field: str) -> str:
    if type(value) is not str or value not in allowed:
        raise X12ContentError(field, f"{value!r} is not one of {sorted(allowed)}")
    return value  # type: ignore[return-value]


def _matching(value: object, pattern: re.Pattern[str], field: str, what: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise X12ContentError(field, f"{value!r} is not {what}")
    return value


def _npi(value: object, field: str) -> str:
    if not isinstance(value, str) or not npi_is_valid(value):
        raise X12ContentError(field, f"{value!r} is not an NPI with a valid check digit")
    return value


def _digits(value: object, field: str, lengths: tuple[int, ...]) -> str:
    if not isinstance(value, str) or len(value) not in lengths or _DIGITS.fullmatch(value) is None:
        raise X12ContentError(field, f"{value!r} must be {' or '.join(map(str, lengths))} digits")
    return value


def format_amount(amount: object, field: str = "amount") -> str:
    """X12 R-type money: no exponent, no trailing zeros beyond need (125, 125.5, 125.55)."""
    return _decimal_text(amount, 2, field, "has fractions of a cent")


def format_quantity(quantity: object, field: str = "quantity") -> str:
    """X12 R-type quantity (units, days): up to three decimals, no exponent, no trailing zeros."""
    text = _decimal_text(quantity, 3, field, "has more than three decimals")
    if text[0] == "-":
        raise X12ContentError(field, f"must not be negative, got {quantity}")
    return text


def _decimal_text(value: object, max_places: int, field: str, too_precise: str) -> str:
    # Runs for every amount and quantity of every claim: charges repeat (fee schedules) and units
    # are nearly always 1, so checked renderings are memoized per precision. The type is checked
    # first because 125.0 (a float) and Decimal("125") are equal dict keys.
    if type(value) is Decimal:
        known = _DECIMALS[max_places].get(value)
        if known is not None:
            return known
    if not isinstance(value, Decimal) or not value.is_finite():
        raise X12ContentError(field, f"must be a finite Decimal, got {value!r}")
    # Work on the fixed-point text (format "f" never uses an exponent), not Decimal.as_tuple().
    text = format(value, "f")
    dot = text.find(".")
    if dot >= 0:
        if len(text) - dot - 1 > max_places and text[dot + 1 + max_places:].strip("0"):
            raise X12ContentError(field, f"{value} {too_precise}")
        text = text.rstrip("0")
        if text[-1] == ".":
            text = text[:-1]
    if text == "-0":
        text = "0"
    return _DECIMALS[max_places].keep(value, text) if type(value) is Decimal else text


def _non_negative_amount(amount: object, field: str) -> str:
    text = format_amount(amount, field)
    if text[0] == "-":
        raise X12ContentError(field, f"must not be negative, got {amount}")
    return text


@lru_cache(maxsize=8192)
def _d8(day: date) -> str:
    """DTP D8 / CCYYMMDD."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _date(day: object, field: str) -> str:
    if not isinstance(day, date):
        raise X12ContentError(field, f"must be a date, got {day!r}")
    return _d8(day if not isinstance(day, datetime) else day.date())


def _date_or_range(start: date, end: date | None, field: str) -> str:
    """DTP02/DTP03 for a service date: D8 for one day, RD8 for a span."""
    if end is None or end == start:
        return "D8*" + _date(start, field)
    if end < start:
        raise X12ContentError(field, f"ends ({end}) before it starts ({start})")
    return f"RD8*{_date(start, field)}-{_date(end, field)}"


def _segment(*elements: str) -> str:
    """Join elements, dropping trailing empty ones (a segment never ends with a separator)."""
    last = len(elements)
    while last > 1 and not elements[last - 1]:
        last -= 1
    return "*".join(elements[:last])


# --------------------------------------------------------------------------------------------
# Parties (rendered once per HL group)
# --------------------------------------------------------------------------------------------


def _n3_n4(address: object, field: str, *, street_only: bool = False, zip_plus_four: bool = False) -> list[str]:
    """N3 (street, max 55) and N4 (city max 30, state, ZIP). The billing provider and service
    facility addresses must be street addresses with a 9-digit ZIP (TR3 2010AA/2310C N3/N4 notes)."""
    if not isinstance(address, Address):
        raise X12ContentError(field, "must be an Address")
    line1 = _text(address.line1, f"{field}.line1", 55)
    line2 = _optional_text(address.line2, f"{field}.line2", 55)
    if street_only:
        for name, line in (("line1", line1), ("line2", line2)):
            if _PO_BOX.search(line):
                raise X12ContentError(
                    f"{field}.{name}",
                    f"{line!r} is a post office or lock box; this address must be a street address "
                    "(send a PO box as the pay-to address, loop 2010AB)")
    city = _text(address.city, f"{field}.city", 30)
    state = _matching(address.state, _STATE, f"{field}.state", "a two-letter state code")
    postal_code = address.postal_code.replace("-", "") if isinstance(address.postal_code, str) else address.postal_code
    if zip_plus_four:
        postal_code = _digits(postal_code, f"{field}.postal_code", (9,))
    else:
        postal_code = _digits(postal_code, f"{field}.postal_code", (5, 9))
    return [_segment("N3", line1, line2), f"N4*{city}*{state}*{postal_code}"]


def _person_nm1(entity_code: str, last: str, first: str, middle: str | None, field: str,
                id_qualifier: str = "", identifier: str = "") -> str:
    return _segment(
        "NM1", entity_code, "1", _text(last, f"{field}.last_name", 60), _text(first, f"{field}.first_name", 35),
        _optional_text(middle, f"{field}.middle_name", 25), "", "", id_qualifier, identifier)


def _interchange_segments(batch: ClaimBatch, interchange_control_number: int, created_at: datetime,
                          usage_indicator: str, acknowledgment_requested: bool) -> str:
    submitter, receiver = batch.submitter, batch.receiver
    sender_qualifier = _code(submitter.interchange_id_qualifier, INTERCHANGE_ID_QUALIFIERS,
                             "submitter.interchange_id_qualifier")
    sender_id = _text(submitter.interchange_id or submitter.identifier, "submitter.interchange_id", 15)
    receiver_qualifier = _code(receiver.interchange_id_qualifier, INTERCHANGE_ID_QUALIFIERS,
                               "receiver.interchange_id_qualifier")
    receiver_id = _text(receiver.interchange_id or receiver.identifier, "receiver.interchange_id", 15)
    # ISA is fixed length: ids padded to 15, the empty authorization/security fields to 10 spaces.
    return (f"ISA*00*{'':10}*00*{'':10}*{sender_qualifier}*{sender_id:<15}*{receiver_qualifier}*{receiver_id:<15}*"
            f"{created_at:%y%m%d}*{created_at:%H%M}*{REPETITION_SEPARATOR}*00501*{interchange_control_number:09d}*"
            f"{'1' if acknowledgment_requested else '0'}*{usage_indicator}*{COMPONENT_SEPARATOR}")


def _submitter_receiver_segments(batch: ClaimBatch) -> list[str]:
    """Loop 1000A (submitter name, PER EDI contact) and loop 1000B (receiver name)."""
    submitter, receiver = batch.submitter, batch.receiver
    contact = [
        "PER", "IC", _text(submitter.contact_name, "submitter.contact_name", 60),
        "TE", _digits(submitter.contact_phone, "submitter.contact_phone", (10,)),
    ]
    if submitter.contact_email is not None:
        contact += ["EM", _text(submitter.contact_email, "submitter.contact_email", 256)]
    return [
        f"NM1*41*2*{_text(submitter.name, 'submitter.name', 60)}*****46*"
        f"{_text(submitter.identifier, 'submitter.identifier', 80)}",
        "*".join(contact),
        f"NM1*40*2*{_text(receiver.name, 'receiver.name', 60)}*****46*"
        f"{_text(receiver.identifier, 'receiver.identifier', 80)}",
    ]


def _billing_provider_segments(provider: BillingProvider, pay_to: PayToAddress | None, institutional: bool) -> list[str]:
    """Loop 2000A PRV, 2010AA (NM1*85, N3, N4, REF tax id) and 2010AB pay-to address."""
    segments = []
    if provider.taxonomy_code is not None:
        taxonomy = _matching(provider.taxonomy_code, _TAXONOMY, "billing_provider.taxonomy_code",
                             "a provider taxonomy code")
        segments.append(f"PRV*BI*PXC*{taxonomy}")
    segments.append(f"NM1*85*2*{_text(provider.name, 'billing_provider.name', 60)}*****XX*"
                    f"{_npi(provider.npi, 'billing_provider.npi')}")
    segments += _n3_n4(provider.address, "billing_provider.address", street_only=True, zip_plus_four=True)
    # 837I 2010AA REF01 allows only EI; 837P allows EI or SY.
    qualifiers = frozenset({"EI"}) if institutional else frozenset({"EI", "SY"})
    qualifier = _code(provider.tax_id_qualifier, qualifiers, "billing_provider.tax_id_qualifier")
    segments.append(f"REF*{qualifier}*{_digits(provider.tax_id, 'billing_provider.tax_id', (9,))}")
    if pay_to is not None:
        segments.append("NM1*87*2")
        segments += _n3_n4(pay_to.address, "pay_to.address")
    return segments


def _subscriber_segments(subscriber: Subscriber, payer: Payer, subscriber_is_patient: bool) -> list[str]:
    """Loop 2000B SBR, 2010BA subscriber (NM1*IL, N3, N4, DMG) and 2010BB payer (NM1*PR)."""
    responsibility = _code(subscriber.payer_responsibility, PAYER_RESPONSIBILITY_CODES, "subscriber.payer_responsibility")
    filing = _code(subscriber.claim_filing_indicator, CLAIM_FILING_INDICATOR_CODES, "subscriber.claim_filing_indicator")
    segments = [
        # SBR02 = 18 (self) only when the subscriber is the patient; otherwise loop 2000C follows.
        _segment("SBR", responsibility, "18" if subscriber_is_patient else "",
                 _optional_text(subscriber.group_number, "subscriber.group_number", 50),
                 _optional_text(subscriber.group_name, "subscriber.group_name", 60), "", "", "", "", filing),
        _person_nm1("IL", subscriber.last_name, subscriber.first_name, subscriber.middle_name, "subscriber",
                    "MI", _text(subscriber.member_id, "subscriber.member_id", 80)),
    ]
    segments += _n3_n4(subscriber.address, "subscriber.address")
    if subscriber_is_patient:
        # 2010BA DMG: required when the patient is the subscriber; otherwise not sent (the
        # patient's demographics go in 2010CA).
        segments.append(f"DMG*D8*{_date(subscriber.birth_date, 'subscriber.birth_date')}*"
                        f"{_code(subscriber.gender, GENDER_CODES, 'subscriber.gender')}")
    segments.append(_payer_nm1(payer, "payer"))
    return segments


def _payer_nm1(payer: Payer, field: str) -> str:
    qualifier = _code(payer.id_qualifier, frozenset({"PI", "XV"}), f"{field}.id_qualifier")
    name = _text(payer.name, f"{field}.name", 60)
    return f"NM1*PR*2*{name}*****{qualifier}*{_text(payer.payer_id, f'{field}.payer_id', 80)}"


def _patient_segments(patient: Patient) -> list[str]:
    """Loop 2000C PAT and 2010CA patient name, address, demographics (no member id in 5010)."""
    relationship = _code(patient.relationship_to_subscriber, PATIENT_RELATIONSHIP_CODES,
                         "patient.relationship_to_subscriber")
    segments = [
        f"PAT*{relationship}",
        _person_nm1("QC", patient.last_name, patient.first_name, patient.middle_name, "patient"),
    ]
    segments += _n3_n4(patient.address, "patient.address")
    segments.append(f"DMG*D8*{_date(patient.birth_date, 'patient.birth_date')}*"
                    f"{_code(patient.gender, GENDER_CODES, 'patient.gender')}")
    return segments


def _provider_segments(provider: Provider, entity_code: str, specialty_code: str | None, field: str) -> list[str]:
    """An individual provider loop: NM1 (NPI, XX) and optionally PRV with its taxonomy."""
    segments = [_person_nm1(entity_code, provider.last_name, provider.first_name, provider.middle_name, field,
                            "XX", _npi(provider.npi, f"{field}.npi"))]
    if specialty_code is not None and provider.taxonomy_code is not None:
        taxonomy = _matching(provider.taxonomy_code, _TAXONOMY, f"{field}.taxonomy_code", "a provider taxonomy code")
        segments.append(f"PRV*{specialty_code}*PXC*{taxonomy}")
    return segments


def _service_facility_segments(facility: ServiceFacility) -> list[str]:
    """837P 2310C / 837I 2310E: NM1*77, N3, N4 (street address, ZIP+4)."""
    npi = "" if facility.npi is None else _npi(facility.npi, "service_facility.npi")
    segments = [_segment("NM1", "77", "2", _text(facility.name, "service_facility.name", 60), "", "", "", "",
                         "XX" if npi else "", npi)]
    segments += _n3_n4(facility.address, "service_facility.address", street_only=True, zip_plus_four=True)
    return segments


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------


class _PartyCache:
    """Rendered provider loops, keyed by object identity for the duration of one build (the
    batch keeps the objects alive, so ids are stable); the same referring provider on 5,000
    claims is checked and rendered once."""

    def __init__(self) -> None:
        self._rendered: dict[tuple[int, str], list[str]] = {}

    def get(self, party: object, role: str, render) -> list[str]:
        key = (id(party), role)
        segments = self._rendered.get(key)
        if segments is None:
            segments = self._rendered[key] = render()
        return segments


def _claim_references(claim: Claim) -> list[str]:
    """2300 REF segments in TR3 order: 9F referral, G1 prior authorization, F8 payer claim
    control number (frequency 7/8 only), EA medical record number."""
    segments = []
    if claim.referral_number is not None:
        segments.append(f"REF*9F*{_text(claim.referral_number, 'referral_number', 50)}")
    if claim.prior_authorization is not None:
        segments.append(f"REF*G1*{_text(claim.prior_authorization, 'prior_authorization', 50)}")
    frequency = claim.frequency_code
    if frequency in CORRECTION_FREQUENCY_CODES:
        if claim.payer_claim_control_number is None:
            raise X12ContentError("payer_claim_control_number",
                                  f"is required for frequency code {frequency} (replacement/void): REF*F8")
        segments.append(f"REF*F8*{_text(claim.payer_claim_control_number, 'payer_claim_control_number', 50)}")
    elif claim.payer_claim_control_number is not None:
        # TR3 2300 REF*F8: "Required when CLM05-3 indicates replacement or void ... If not required, do not send."
        raise X12ContentError("payer_claim_control_number",
                              f"is sent only on replacement (7) or void (8) claims, not frequency {frequency}")
    if claim.medical_record_number is not None:
        segments.append(f"REF*EA*{_text(claim.medical_record_number, 'medical_record_number', 50)}")
    return segments


def _diagnosis(code: object, field: str) -> str:
    if type(code) is str:
        known = _DIAGNOSES.get(code)
        if known is not None:
            return known
    if not isinstance(code, str):
        raise X12ContentError(field, f"must be text, got {type(code).__name__}")
    normalized = normalize_icd10(code)  # HI carries ICD-10-CM without the dot
    return _DIAGNOSES.keep(code, _matching(normalized, ICD10_CM, field, "an ICD-10-CM code"))


def _check_totals(claim: Claim, max_lines: int) -> str:
    """Line count within the TR3 limit and CLM02 = sum of line charges; returns CLM02 as text."""
    count = len(claim.lines)
    if count == 0:
        raise X12ContentError("lines", "a claim needs at least one service line")
    if count > max_lines:
        kind = "837P" if isinstance(claim, ProfessionalClaim) else "837I"
        raise X12ContentError(
            "lines", f"has {count} service lines; an {kind} claim allows at most {max_lines} (loop 2400): "
                     "split the claim before building the file")
    total = _non_negative_amount(claim.total_charge, "total_charge")
    line_sum = Decimal(0)
    for number, line in enumerate(claim.lines):
        if not isinstance(line.charge, Decimal):
            raise X12ContentError(f"lines[{number}].charge", f"must be a Decimal, got {line.charge!r}")
        line_sum += line.charge
    if line_sum != claim.total_charge:
        raise X12ContentError(
            "total_charge", f"CLM02 {total} does not equal the sum of the line charges {format_amount(line_sum)}")
    return total


def _claim_header(claim: Claim, total: str, facility_code: str, facility_qualifier: str, frequency: str, *,
                  provider_signature: str) -> str:
    """CLM: 01 patient control number (max 20: receivers keep 20, the 835 echoes it in CLP01),
    02 total charge, 05 facility code : qualifier : frequency, 06 provider signature (837P only),
    07 assignment, 08 benefits assignment certification, 09 release of information."""
    pcn = _text(claim.patient_control_number, "patient_control_number", 20)
    return (f"CLM*{pcn}*{total}***{facility_code}:{facility_qualifier}:{frequency}*"
            f"{provider_signature}*"
            f"{_code(claim.assignment_participation, ASSIGNMENT_PARTICIPATION_CODES, 'assignment_participation')}*"
            f"{_code(claim.benefits_assigned, BENEFITS_ASSIGNMENT_CODES, 'benefits_assigned')}*"
            f"{_code(claim.release_of_information, RELEASE_OF_INFORMATION_CODES, 'release_of_information')}")


def _professional_claim_segments(claim: ProfessionalClaim, parties: _PartyCache) -> list[str]:
    """Loop 2300 of the 837P through its 2400 lines."""
    total = _check_totals(claim, MAX_PROFESSIONAL_LINES)
    place = _matching(claim.place_of_service, PLACE_OF_SERVICE, "place_of_service", "a two-digit place of service code")
    frequency = _code(claim.frequency_code, PROFESSIONAL_FREQUENCY_CODES, "frequency_code")
    if not isinstance(claim.provider_signature_on_file, bool):
        raise X12ContentError("provider_signature_on_file", "must be True or False")
    segments = [_claim_header(claim, total, place, "B", frequency,
                              provider_signature="Y" if claim.provider_signature_on_file else "N")]
    segments += _claim_references(claim)
    segments.append(_professional_diagnoses(claim.diagnosis_codes))
    if claim.referring_provider is not None:  # 2310A
        segments += parties.get(claim.referring_provider, "DN", lambda: _provider_segments(
            claim.referring_provider, "DN", None, "referring_provider"))
    if claim.rendering_provider is not None:  # 2310B
        segments += parties.get(claim.rendering_provider, "82", lambda: _provider_segments(
            claim.rendering_provider, "82", "PE", "rendering_provider"))
    if claim.service_facility is not None:  # 2310C
        segments += parties.get(claim.service_facility, "77", lambda: _service_facility_segments(claim.service_facility))
    if claim.supervising_provider is not None:  # 2310D: NM1*DQ (no PRV in this loop)
        segments += parties.get(claim.supervising_provider, "DQ", lambda: _provider_segments(
            claim.supervising_provider, "DQ", None, "supervising_provider"))
    segments += _other_payers_segments(claim)
    diagnosis_count = len(claim.diagnosis_codes)
    for number, line in enumerate(claim.lines):
        try:
            _append_professional_line(segments, line, number + 1, place, diagnosis_count)
        except X12ContentError as error:
            raise error.within(f"lines[{number}]") from None
    return segments


def _professional_diagnoses(codes: Sequence[str]) -> str:
    """2300 HI: the principal diagnosis ABK, then up to 11 ABF (ICD-10-CM)."""
    if not isinstance(codes, tuple) or not 1 <= len(codes) <= MAX_PROFESSIONAL_DIAGNOSES:
        raise X12ContentError("diagnosis_codes", f"needs 1 to {MAX_PROFESSIONAL_DIAGNOSES} codes, got {codes!r}")
    parts = ["HI", "ABK:" + _diagnosis(codes[0], "diagnosis_codes[0]")]
    for number in range(1, len(codes)):
        parts.append("ABF:" + _diagnosis(codes[number], f"diagnosis_codes[{number}]"))
    return "*".join(parts)


def _procedure(code: object, modifiers: object, field: str, qualifier: str = "HC") -> str:
    """Composite C003: HC:procedure[:modifier1..4]."""
    key = (code, modifiers, qualifier)
    try:
        known = _PROCEDURES.get(key)
    except TypeError:  # unhashable modifiers (a list): the check below names the field
        known = None
    if known is not None and type(code) is str and type(modifiers) is tuple:
        return known
    procedure = _matching(code, PROCEDURE_CODE, f"{field}procedure_code", "a CPT or HCPCS code")
    if not modifiers:
        return _PROCEDURES.keep(key, f"{qualifier}:{procedure}")
    if not isinstance(modifiers, tuple) or len(modifiers) > 4:
        raise X12ContentError(f"{field}modifiers", f"up to 4 modifiers, got {modifiers!r}")
    for number, modifier in enumerate(modifiers):
        _matching(modifier, MODIFIER, f"{field}modifiers[{number}]", "a two-character modifier")
    return _PROCEDURES.keep(key, f"{qualifier}:{procedure}:" + ":".join(modifiers))


def _append_professional_line(segments: list[str], line: ProfessionalServiceLine, number: int, claim_place: str,
                              diagnosis_count: int) -> None:
    """Loop 2400: LX, SV1 (01 procedure, 02 charge, 03 UN, 04 units, 05 place of service when it
    differs from CLM05-1, 07 diagnosis pointers 1-4), DTP*472, REF*6R, then loop 2430.
    Appends to `segments` (the hot path of a large batch: no intermediate lists)."""
    composite = _procedure(line.procedure_code, line.modifiers, "")
    charge = _decimal_text(line.charge, 2, "charge", "has fractions of a cent")
    if charge[0] == "-":
        raise X12ContentError("charge", f"must not be negative, got {line.charge}")
    units = format_quantity(line.units, "units")
    place = ""
    if line.place_of_service is not None:
        place = _matching(line.place_of_service, PLACE_OF_SERVICE, "place_of_service",
                          "a two-digit place of service code")
        if place == claim_place:
            place = ""
    segments.append(f"LX*{number}")
    segments.append(f"SV1*{composite}*{charge}*UN*{units}*{place}**{_pointers(line.diagnosis_pointers, diagnosis_count)}")
    segments.append("DTP*472*" + _date_or_range(line.service_date, line.service_end_date, "service_date"))
    if line.line_control_number is not None:
        segments.append(f"REF*6R*{_text(line.line_control_number, 'line_control_number', 50)}")
    if line.adjudications:
        segments += _line_adjudication_segments(line, composite, institutional=False)


def _pointers(pointers: object, diagnosis_count: int) -> str:
    """SV107: up to four distinct pointers into the claim's HI list (1-based)."""
    key = (pointers, diagnosis_count)
    known = _POINTERS.get(key) if type(pointers) is tuple else None
    if known is not None:
        return known
    if not isinstance(pointers, tuple) or not 1 <= len(pointers) <= 4:
        raise X12ContentError("diagnosis_pointers", f"needs 1 to 4 pointers, got {pointers!r}")
    if len(set(pointers)) != len(pointers):
        raise X12ContentError("diagnosis_pointers", f"repeats a pointer: {pointers!r}")
    for pointer in pointers:
        if type(pointer) is not int or not 1 <= pointer <= diagnosis_count:
            raise X12ContentError("diagnosis_pointers",
                                  f"{pointer!r} does not point at one of the claim's {diagnosis_count} diagnoses")
    return _POINTERS.keep(key, ":".join(map(str, pointers)))


def _institutional_claim_segments(claim: InstitutionalClaim, parties: _PartyCache) -> list[str]:
    """Loop 2300 of the 837I through its 2400 lines."""
    total = _check_totals(claim, MAX_INSTITUTIONAL_LINES)
    bill = _TYPE_OF_BILL.fullmatch(claim.type_of_bill) if isinstance(claim.type_of_bill, str) else None
    if bill is None:
        raise X12ContentError("type_of_bill", f"{claim.type_of_bill!r} is not a type of bill such as '0131' or '111'")
    facility_type, frequency = bill.groups()
    # 837I CLM05: facility type code : A (uniform billing bill type) : frequency; CLM06 is not used.
    if facility_type == "11" and (claim.admitted_at is None or claim.admission_type_code is None):
        # TR3 2300 DTP*435 and CL101: required on inpatient claims (type of bill 11x).
        raise X12ContentError("admitted_at" if claim.admitted_at is None else "admission_type_code",
                              f"is required on an inpatient claim (type of bill {claim.type_of_bill})")
    segments = [_claim_header(claim, total, facility_type, "A", frequency, provider_signature="")]
    segments += _statement_and_admission(claim)
    segments += _claim_references(claim)
    segments += _institutional_diagnoses(claim)
    if claim.attending_provider is not None:  # 2310A
        segments += parties.get(claim.attending_provider, "71", lambda: _provider_segments(
            claim.attending_provider, "71", "AT", "attending_provider"))
    if claim.service_facility is not None:  # 2310E
        segments += parties.get(claim.service_facility, "77", lambda: _service_facility_segments(claim.service_facility))
    segments += _other_payers_segments(claim)
    for number, line in enumerate(claim.lines):
        try:
            segments += _institutional_line_segments(line, number + 1)
        except X12ContentError as error:
            raise error.within(f"lines[{number}]") from None
    return segments


def _statement_and_admission(claim: InstitutionalClaim) -> list[str]:
    """2300 DTP*096 discharge hour (inpatient), DTP*434 statement dates (RD8, required), DTP*435
    admission (inpatient), CL1 — the TR3 order of the 2300 DTPs (all at position 1350)."""
    start = _date(claim.statement_from, "statement_from")
    end = _date(claim.statement_to, "statement_to")
    if claim.statement_to < claim.statement_from:
        raise X12ContentError("statement_to", "is before statement_from")
    segments = []
    if claim.discharge_hour is not None:
        if not isinstance(claim.discharge_hour, time):
            raise X12ContentError("discharge_hour", f"must be a time, got {claim.discharge_hour!r}")
        segments.append(f"DTP*096*TM*{claim.discharge_hour:%H%M}")
    segments.append(f"DTP*434*RD8*{start}-{end}")
    if claim.admitted_at is not None:
        if isinstance(claim.admitted_at, datetime):
            segments.append(f"DTP*435*DT*{_d8(claim.admitted_at.date())}{claim.admitted_at:%H%M}")
        else:
            segments.append(f"DTP*435*D8*{_date(claim.admitted_at, 'admitted_at')}")
    admission_type = "" if claim.admission_type_code is None else _matching(
        claim.admission_type_code, _ADMISSION_TYPE, "admission_type_code", "a one-digit admission type code")
    admission_source = "" if claim.admission_source_code is None else _matching(
        claim.admission_source_code, _ADMISSION_SOURCE, "admission_source_code", "a one-character admission source code")
    status = _matching(claim.patient_status_code, _PATIENT_STATUS, "patient_status_code",
                       "a two-digit patient status code")
    segments.append(f"CL1*{admission_type}*{admission_source}*{status}")
    return segments


def _institutional_diagnoses(claim: InstitutionalClaim) -> list[str]:
    """2300 HI segments in TR3 order: ABK principal, ABJ admitting, APR reason for visit (up to 3),
    ABF other diagnoses (12 per segment, 2 segments), BH occurrence codes with dates."""
    segments = ["HI*ABK:" + _diagnosis(claim.principal_diagnosis, "principal_diagnosis")]
    if claim.admitting_diagnosis is not None:
        segments.append("HI*ABJ:" + _diagnosis(claim.admitting_diagnosis, "admitting_diagnosis"))
    if claim.reason_for_visit:
        if len(claim.reason_for_visit) > 3:
            raise X12ContentError("reason_for_visit", "allows at most 3 codes")
        segments.append("HI*" + "*".join(
            "APR:" + _diagnosis(code, f"reason_for_visit[{number}]")
            for number, code in enumerate(claim.reason_for_visit)))
    others = claim.other_diagnoses
    if len(others) > MAX_OTHER_INSTITUTIONAL_DIAGNOSES:
        raise X12ContentError("other_diagnoses", f"allows at most {MAX_OTHER_INSTITUTIONAL_DIAGNOSES} codes")
    for start in range(0, len(others), 12):
        segments.append("HI*" + "*".join(
            "ABF:" + _diagnosis(code, f"other_diagnoses[{start + offset}]")
            for offset, code in enumerate(others[start:start + 12])))
    occurrences = claim.occurrences
    if len(occurrences) > 24:
        raise X12ContentError("occurrences", "allows at most 24 occurrence codes")
    for start in range(0, len(occurrences), 12):
        segments.append("HI*" + "*".join(
            f"BH:{_matching(item.code, _OCCURRENCE_CODE, f'occurrences[{start + offset}].code', 'an occurrence code')}"
            f":D8:{_date(item.occurred_on, f'occurrences[{start + offset}].occurred_on')}"
            for offset, item in enumerate(occurrences[start:start + 12])))
    return segments


def _institutional_line_segments(line: InstitutionalServiceLine, number: int) -> list[str]:
    """Loop 2400: LX, SV2 (01 revenue code, 02 HCPCS composite, 03 charge, 04 UN/DA, 05 units),
    DTP*472 (when a date is given), REF*6R, then loop 2430."""
    revenue = _matching(line.revenue_code, _REVENUE_CODE, "revenue_code", "a four-digit revenue code")
    composite = "" if line.procedure_code is None else _procedure(line.procedure_code, line.modifiers, "")
    basis = _code(line.unit_basis, frozenset({"UN", "DA"}), "unit_basis")
    segments = [f"LX*{number}",
                f"SV2*{revenue}*{composite}*{_non_negative_amount(line.charge, 'charge')}*{basis}*"
                f"{format_quantity(line.units, 'units')}"]
    if line.service_date is not None:
        segments.append("DTP*472*" + _date_or_range(line.service_date, line.service_end_date, "service_date"))
    if line.line_control_number is not None:
        segments.append(f"REF*6R*{_text(line.line_control_number, 'line_control_number', 50)}")
    if line.adjudications:
        segments += _line_adjudication_segments(line, composite, institutional=True)
    return segments


# --------------------------------------------------------------------------------------------
# Coordination of benefits: loops 2320/2330 and 2430
# --------------------------------------------------------------------------------------------


def _cas_segments(adjustments: Sequence[ClaimAdjustment], field: str) -> list[str]:
    """CAS: one segment per group code with up to six reason/amount/quantity trios each; a
    loop holds at most five CAS segments (claim 2320 and line 2430 alike)."""
    by_group: dict[str, list[str]] = {}
    for number, adjustment in enumerate(adjustments):
        where = f"{field}[{number}]"
        group = _code(adjustment.group_code, ADJUSTMENT_GROUP_CODES, f"{where}.group_code")
        reason = _matching(adjustment.reason_code, CARC, f"{where}.reason_code", "a claim adjustment reason code")
        quantity = "" if adjustment.quantity is None else format_quantity(adjustment.quantity, f"{where}.quantity")
        amount = format_amount(adjustment.amount, f"{where}.amount")
        by_group.setdefault(group, []).append(f"{reason}*{amount}*{quantity}")
    segments = []
    for group, trios in by_group.items():
        for start in range(0, len(trios), 6):
            segments.append(_segment("CAS", group, *"*".join(trios[start:start + 6]).split("*")))
    if len(segments) > 5:
        raise X12ContentError(field, f"needs {len(segments)} CAS segments; a loop allows at most 5")
    return segments


def _adjustment_total(adjustments: Sequence[ClaimAdjustment]) -> Decimal:
    return sum((adjustment.amount for adjustment in adjustments), Decimal(0))


def _other_payers_segments(claim: Claim) -> list[str]:
    """Loop 2320 (SBR, CAS, AMT*D, AMT*EAF, OI) with 2330A other subscriber and 2330B other payer,
    once per other payer (at most 10). Checks the claim-level balance the TR3 requires for an
    adjudicated payer: CLM02 - claim CAS - that payer's line CAS = AMT*D."""
    _check_line_adjudication_payers(claim)
    if not claim.other_payers:
        return []
    if len(claim.other_payers) > MAX_OTHER_PAYERS:
        raise X12ContentError("other_payers", f"allows at most {MAX_OTHER_PAYERS} other payers")
    segments: list[str] = []
    seen_responsibility = {claim.subscriber.payer_responsibility}
    for number, coverage in enumerate(claim.other_payers):
        field = f"other_payers[{number}]"
        responsibility = _code(coverage.payer_responsibility, PAYER_RESPONSIBILITY_CODES, f"{field}.payer_responsibility")
        if responsibility in seen_responsibility and responsibility != "U":
            raise X12ContentError(f"{field}.payer_responsibility",
                                  f"{responsibility!r} is already used by another payer on this claim")
        seen_responsibility.add(responsibility)
        segments.append(_segment(
            "SBR", responsibility,
            _code(coverage.relationship_to_patient, OTHER_SUBSCRIBER_RELATIONSHIP_CODES,
                  f"{field}.relationship_to_patient"),
            _optional_text(coverage.group_number, f"{field}.group_number", 50), "", "", "", "", "",
            _code(coverage.claim_filing_indicator, CLAIM_FILING_INDICATOR_CODES, f"{field}.claim_filing_indicator")))
        segments += _cas_segments(coverage.claim_adjustments, f"{field}.claim_adjustments")
        if coverage.payer_paid_amount is not None:
            segments.append(f"AMT*D*{format_amount(coverage.payer_paid_amount, f'{field}.payer_paid_amount')}")
            _check_claim_balance(claim, coverage, field)
        if coverage.remaining_patient_liability is not None:
            segments.append("AMT*EAF*" + _non_negative_amount(
                coverage.remaining_patient_liability, f"{field}.remaining_patient_liability"))
        segments.append(
            f"OI***{_code(coverage.benefits_assigned, BENEFITS_ASSIGNMENT_CODES, f'{field}.benefits_assigned')}***"
            f"{_code(coverage.release_of_information, RELEASE_OF_INFORMATION_CODES, f'{field}.release_of_information')}")
        other = coverage.subscriber
        segments.append(_person_nm1("IL", other.last_name, other.first_name, other.middle_name, f"{field}.subscriber",
                                    "MI", _text(other.member_id, f"{field}.subscriber.member_id", 80)))
        if other.address is not None:
            segments += _n3_n4(other.address, f"{field}.subscriber.address")
        segments.append(_payer_nm1(coverage.payer, f"{field}.payer"))
        if coverage.adjudication_date is not None:
            segments.append(f"DTP*573*D8*{_date(coverage.adjudication_date, f'{field}.adjudication_date')}")
    return segments


def _check_claim_balance(claim: Claim, coverage: OtherPayerCoverage, field: str) -> None:
    payer_id = coverage.payer.payer_id
    line_adjustments = sum(
        (_adjustment_total(adjudication.adjustments)
         for line in claim.lines for adjudication in line.adjudications if adjudication.other_payer_id == payer_id),
        Decimal(0))
    expected = claim.total_charge - _adjustment_total(coverage.claim_adjustments) - line_adjustments
    if expected != coverage.payer_paid_amount:
        raise X12ContentError(
            f"{field}.payer_paid_amount",
            f"AMT*D {format_amount(coverage.payer_paid_amount)} does not balance: "
            f"CLM02 {format_amount(claim.total_charge)} - claim CAS - line CAS of payer {payer_id} = "
            f"{format_amount(expected)}")


def _check_line_adjudication_payers(claim: Claim) -> None:
    payer_ids = {coverage.payer.payer_id for coverage in claim.other_payers}
    for number, line in enumerate(claim.lines):
        for position, adjudication in enumerate(line.adjudications):
            if adjudication.other_payer_id not in payer_ids:
                raise X12ContentError(
                    f"lines[{number}].adjudications[{position}].other_payer_id",
                    f"{adjudication.other_payer_id!r} is not the payer id of any 2320/2330B other payer on this claim")


def _line_adjudication_segments(line: ProfessionalServiceLine | InstitutionalServiceLine, composite: str, *,
                                institutional: bool) -> list[str]:
    """Loop 2430: SVD (01 other payer id, 02 paid, 03 procedure composite, 04 revenue code (837I),
    05 paid units), CAS, DTP*573. Line balance: charge - line CAS = SVD02."""
    if len(line.adjudications) > MAX_LINE_ADJUDICATIONS:
        raise X12ContentError("adjudications", f"allows at most {MAX_LINE_ADJUDICATIONS} line adjudications")
    segments = []
    for number, adjudication in enumerate(line.adjudications):
        field = f"adjudications[{number}]"
        paid = format_amount(adjudication.paid_amount, f"{field}.paid_amount")
        expected = line.charge - _adjustment_total(adjudication.adjustments)
        if expected != adjudication.paid_amount:
            raise X12ContentError(
                f"{field}.paid_amount", f"SVD02 {paid} does not balance: line charge {format_amount(line.charge)} - "
                                        f"line CAS = {format_amount(expected)}")
        procedure = composite
        if adjudication.procedure_code is not None:
            procedure = _procedure(adjudication.procedure_code, adjudication.modifiers or (), f"{field}.")
        payer_id = _text(adjudication.other_payer_id, f"{field}.other_payer_id", 80)
        units = format_quantity(adjudication.paid_units, f"{field}.paid_units")
        revenue = line.revenue_code if institutional else ""  # type: ignore[union-attr]
        segments.append(f"SVD*{payer_id}*{paid}*{procedure}*{revenue}*{units}")
        segments += _cas_segments(adjudication.adjustments, f"{field}.adjustments")
        segments.append(f"DTP*573*D8*{_date(adjudication.adjudication_date, f'{field}.adjudication_date')}")
    return segments


# --------------------------------------------------------------------------------------------
# Envelopes and the HL hierarchy
# --------------------------------------------------------------------------------------------


def _control_number(value: object, field: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_CONTROL_NUMBER:
        raise ValueError(f"{field}: control numbers are integers from 1 to {MAX_CONTROL_NUMBER}, got {value!r}")
    return value


def envelope_counts(batch: ClaimBatch, *, max_claims_per_transaction: int = 5000) -> tuple[int, int]:
    """How many group and transaction set control numbers `build_837` needs for this batch:
    one GS per claim kind present, one ST per `max_claims_per_transaction` claims of a kind."""
    groups = 0
    transactions = 0
    for kind in (ProfessionalClaim, InstitutionalClaim):
        count = sum(1 for claim in batch.claims if isinstance(claim, kind))
        if count:
            groups += 1
            transactions += -(-count // max_claims_per_transaction)
    return groups, transactions


def build_837(
    batch: ClaimBatch,
    *,
    interchange_control_number: int,
    group_control_numbers: Sequence[int],
    transaction_set_control_numbers: Sequence[int],
    created_at: datetime,
    usage_indicator: str = "P",
    newline_after_segment: bool = False,
    acknowledgment_requested: bool = False,
    max_claims_per_transaction: int = 5000,
) -> str:
    """Render a batch as one X12 interchange.

    Layout: ISA; then one GS per claim kind present, professional (GS08 005010X222A1) before
    institutional (GS08 005010X223A2); within each group, claims in input order are cut into
    transaction sets of at most `max_claims_per_transaction` claims; GE; IEA. Control numbers are
    consumed in that order: `group_control_numbers[i]` for the i-th group, and
    `transaction_set_control_numbers[j]` for the j-th ST of the whole interchange (see
    `envelope_counts`). All must be distinct integers 1..999999999; ISA13 is zero-padded to 9.

    Within a transaction the HL hierarchy groups equal billing providers (2000A, HL03=20), then
    equal subscriber + payer (2000B, HL03=22), then equal patients (2000C, HL03=23) in order of
    first appearance; a 2000B/2000C is repeated after 100 claims (loop 2300 limit).

    Raises `X12ContentError` (a ValueError naming the claim and field) for content that cannot
    be sent, `ValueError` for bad envelope arguments. Returns the interchange text; segments end
    with "~" (and a newline when `newline_after_segment`).
    """
    _control_number(interchange_control_number, "interchange_control_number")
    return prepare_837(batch, created_at=created_at, usage_indicator=usage_indicator,
                       newline_after_segment=newline_after_segment, acknowledgment_requested=acknowledgment_requested,
                       max_claims_per_transaction=max_claims_per_transaction).render(
        interchange_control_number=interchange_control_number, group_control_numbers=group_control_numbers,
        transaction_set_control_numbers=transaction_set_control_numbers)


@dataclass(frozen=True)
class _EnvelopeNumbers:
    interchange: int
    groups: Sequence[int]
    sets: Sequence[int]


# A segment of a prepared interchange: its text, or how to write it once the control numbers are known.
_Part = str | Callable[[_EnvelopeNumbers], str]


@dataclass(frozen=True)
class Prepared837:
    """An interchange rendered but for its control numbers (ISA13/IEA02, GS06/GE02, ST02/SE02 and
    a generated BHT03). Every content check has run when it exists, so a sender can draw control
    numbers for it knowing none will be burnt on a claim the generator refuses, and the claims are
    rendered once."""

    parts: tuple[_Part, ...]
    group_count: int
    transaction_set_count: int
    terminator: str

    def render(self, *, interchange_control_number: int, group_control_numbers: Sequence[int],
               transaction_set_control_numbers: Sequence[int]) -> str:
        """The interchange text with these control numbers (see build_837); ValueError for bad ones."""
        _control_number(interchange_control_number, "interchange_control_number")
        group_numbers = [_control_number(n, f"group_control_numbers[{i}]")
                         for i, n in enumerate(group_control_numbers)]
        set_numbers = [_control_number(n, f"transaction_set_control_numbers[{i}]")
                       for i, n in enumerate(transaction_set_control_numbers)]
        if len(group_numbers) != self.group_count or len(set_numbers) != self.transaction_set_count:
            raise ValueError(
                f"this batch needs {self.group_count} group and {self.transaction_set_count} transaction set "
                f"control numbers, got {len(group_numbers)} and {len(set_numbers)}")
        if len(set(group_numbers)) != len(group_numbers) or len(set(set_numbers)) != len(set_numbers):
            raise ValueError("control numbers must not repeat within an interchange")
        numbers = _EnvelopeNumbers(interchange_control_number, group_numbers, set_numbers)
        return self.terminator.join(part if isinstance(part, str) else part(numbers)
                                    for part in self.parts) + self.terminator


def prepare_837(
    batch: ClaimBatch,
    *,
    created_at: datetime,
    usage_indicator: str = "P",
    newline_after_segment: bool = False,
    acknowledgment_requested: bool = False,
    max_claims_per_transaction: int = 5000,
) -> Prepared837:
    """The batch rendered as build_837 renders it, control numbers left to `Prepared837.render`.
    Raises what build_837 raises for the batch's content and the other arguments."""
    if usage_indicator not in ("P", "T"):
        raise ValueError(f"usage_indicator: 'P' (production) or 'T' (test), got {usage_indicator!r}")
    if not isinstance(created_at, datetime):
        raise ValueError(f"created_at: must be a datetime, got {created_at!r}")
    if type(max_claims_per_transaction) is not int or max_claims_per_transaction < 1:
        raise ValueError("max_claims_per_transaction: must be a positive integer")
    if not batch.claims:
        raise ValueError("batch.claims: an interchange needs at least one claim")
    for index, claim in enumerate(batch.claims):
        if not isinstance(claim, (ProfessionalClaim, InstitutionalClaim)):
            raise ValueError(f"claims[{index}]: a ProfessionalClaim or an InstitutionalClaim, got {type(claim).__name__}")

    _interchange_segments(batch, 1, created_at, usage_indicator, acknowledgment_requested)  # its content checks
    parts: list[_Part] = [lambda n: _interchange_segments(batch, n.interchange, created_at, usage_indicator,
                                                          acknowledgment_requested)]
    header_parties = _submitter_receiver_segments(batch)
    application_sender = _text(batch.submitter.application_code or batch.submitter.identifier,
                               "submitter.application_code", 15)
    application_receiver = _text(batch.receiver.application_code or batch.receiver.identifier,
                                 "receiver.application_code", 15)
    reference = None if batch.reference is None else _text(batch.reference, "batch.reference", 50)
    parties = _PartyCache()
    set_index = 0
    group_index = 0
    for kind, version in ((ProfessionalClaim, PROFESSIONAL_VERSION), (InstitutionalClaim, INSTITUTIONAL_VERSION)):
        indexed = [(index, claim) for index, claim in enumerate(batch.claims) if isinstance(claim, kind)]
        if not indexed:
            continue
        parts.append(lambda n, g=group_index, version=version: (
            f"GS*HC*{application_sender}*{application_receiver}*{created_at:%Y%m%d}*{created_at:%H%M}*"
            f"{n.groups[g]}*X*{version}"))
        sets_in_group = 0
        for start in range(0, len(indexed), max_claims_per_transaction):
            body = _transaction_set_body(indexed[start:start + max_claims_per_transaction], version,
                                         header_parties, parties)
            parts += _transaction_set(body, version, set_index, created_at, reference)
            set_index += 1
            sets_in_group += 1
        parts.append(lambda n, g=group_index, sets=sets_in_group: f"GE*{sets}*{n.groups[g]}")
        group_index += 1
    parts.append(lambda n, groups=group_index: f"IEA*{groups}*{n.interchange:09d}")
    return Prepared837(tuple(parts), group_index, set_index,
                       SEGMENT_TERMINATOR + ("\n" if newline_after_segment else ""))


def _claim_error(index: int, claim: Claim, error: X12ContentError) -> X12ContentError:
    pcn = getattr(claim, "patient_control_number", None)
    return error.within(f"claims[{index}]" + (f" (CLM01 {pcn!r})" if isinstance(pcn, str) else ""))


def _transaction_set(body: list[str], version: str, set_index: int, created_at: datetime,
                     reference: str | None) -> list[_Part]:
    """ST through SE of one 837 around its body; SE01 counts ST..SE. Without a batch reference,
    BHT03 is the interchange and transaction set control numbers."""
    def bht(n: _EnvelopeNumbers) -> str:
        originator = reference if reference is not None else f"{n.interchange:09d}{n.sets[set_index]:04d}"
        # 0019 = information source/subscriber/dependent structure, 00 = original, CH = chargeable.
        return f"BHT*0019*00*{originator}*{created_at:%Y%m%d}*{created_at:%H%M}*CH"

    return [lambda n: f"ST*837*{n.sets[set_index]:04d}*{version}", bht, *body,
            lambda n, count=len(body) + 3: f"SE*{count}*{n.sets[set_index]:04d}"]


def _transaction_set_body(indexed_claims: list[tuple[int, Claim]], version: str, header_parties: list[str],
                          parties: _PartyCache) -> list[str]:
    """What an 837 transaction set holds between BHT and SE: 1000A/1000B, then the HL tree."""
    segments = list(header_parties)
    institutional = version == INSTITUTIONAL_VERSION
    render_claim = _institutional_claim_segments if institutional else _professional_claim_segments
    hl = 0
    for (provider, pay_to), subscribers in _hierarchy(indexed_claims).items():
        hl += 1
        provider_hl = hl
        segments.append(f"HL*{provider_hl}**20*1")
        first_index, first_claim = _first_claim(subscribers)
        try:
            segments += _billing_provider_segments(provider, pay_to, institutional)
        except X12ContentError as error:
            raise _claim_error(first_index, first_claim, error) from None
        for (subscriber, payer), by_patient in subscribers.items():
            own_claims = by_patient.pop(None, [])
            for start in range(0, len(own_claims), MAX_CLAIMS_PER_HL):
                hl += 1
                segments.append(f"HL*{hl}*{provider_hl}*22*0")
                segments += _subscriber_block(subscriber, payer, True, own_claims[0])
                segments += _claims_block(own_claims[start:start + MAX_CLAIMS_PER_HL], render_claim, parties)
            if not by_patient:
                continue
            hl += 1
            subscriber_hl = hl
            segments.append(f"HL*{subscriber_hl}*{provider_hl}*22*1")
            segments += _subscriber_block(subscriber, payer, False, next(iter(by_patient.values()))[0])
            for patient, patient_claims in by_patient.items():
                try:
                    patient_segments = _patient_segments(patient)
                except X12ContentError as error:
                    raise _claim_error(*patient_claims[0], error) from None
                for start in range(0, len(patient_claims), MAX_CLAIMS_PER_HL):
                    hl += 1
                    segments.append(f"HL*{hl}*{subscriber_hl}*23*0")
                    segments += patient_segments
                    segments += _claims_block(patient_claims[start:start + MAX_CLAIMS_PER_HL], render_claim, parties)
    return segments


_Hierarchy = dict[tuple[BillingProvider, "PayToAddress | None"],
                  dict[tuple[Subscriber, Payer], dict["Patient | None", list[tuple[int, Claim]]]]]


def _hierarchy(indexed_claims: list[tuple[int, Claim]]) -> _Hierarchy:
    """Billing provider (+ pay-to) -> subscriber + payer -> patient (None = the subscriber) ->
    claims, each level in order of first appearance (dicts keep insertion order)."""
    tree: _Hierarchy = {}
    for index, claim in indexed_claims:
        try:
            provider_key = (claim.billing_provider, claim.pay_to)
            subscriber_key = (claim.subscriber, claim.payer)
            patient_key = claim.patient
            tree.setdefault(provider_key, {}).setdefault(subscriber_key, {}).setdefault(patient_key, []).append(
                (index, claim))
        except TypeError as error:  # an unhashable field, e.g. a list where a tuple belongs
            raise X12ContentError(f"claims[{index}]", f"parties must be immutable (tuples, not lists): {error}") from None
    return tree


def _first_claim(subscribers: dict) -> tuple[int, Claim]:  # type: ignore[type-arg]
    first_patient_group = next(iter(next(iter(subscribers.values())).values()))
    return first_patient_group[0]


def _subscriber_block(subscriber: Subscriber, payer: Payer, is_patient: bool, first: tuple[int, Claim]) -> list[str]:
    try:
        return _subscriber_segments(subscriber, payer, is_patient)
    except X12ContentError as error:
        raise _claim_error(*first, error) from None


def _claims_block(indexed_claims: list[tuple[int, Claim]], render_claim, parties: _PartyCache) -> list[str]:
    segments: list[str] = []
    for index, claim in indexed_claims:
        try:
            segments += render_claim(claim, parties)
        except X12ContentError as error:
            raise _claim_error(index, claim, error) from None
    return segments
