"""Request and response bodies of the claims API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, field_validator

from openrcm_shared.codes import ICD10_CM, MODIFIER, PLACE_OF_SERVICE, PROCEDURE_CODE, normalize_icd10, npi_is_valid
from openrcm_shared.money import Money, PositiveMoney

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# 837P 2400 loops: at most 50 service lines per claim (005010X222A1); an 837I takes 999
# (005010X223A2). An encounter may bring up to 999 lines: a professional one is split into claims
# of at most 50 lines each (service_layer.submission).
MAX_PROFESSIONAL_LINES = 50
MAX_INSTITUTIONAL_LINES = 999
MAX_ENCOUNTER_LINES = 999
# 2300 HI: up to 12 diagnosis codes on a professional claim; principal + 24 others on an 837I.
MAX_PROFESSIONAL_DIAGNOSES = 12
MAX_INSTITUTIONAL_DIAGNOSES = 25
# SBR01 in order of benefits: primary, secondary, tertiary.
PAYER_RESPONSIBILITY_ORDER = ("P", "S", "T")


def _npi(value: str) -> str:
    if not npi_is_valid(value):
        raise ValueError("not a valid NPI (10 digits with a Luhn check digit)")
    return value


Npi = Annotated[str, AfterValidator(_npi)]


def _units_json(units: Decimal) -> int | float:
    # A count in JSON is a number: 2 stays 2, 1.5 is 1.5 (three decimals at most survive a float).
    return int(units) if units == units.to_integral_value() else float(units)


# Units of service (837P SV104, 837I SV205): an X12 R-type quantity, so fractional units (0.5 of a
# timed code, 1.25 hours) are billed as they are, up to three decimals (claim_lines NUMERIC(9, 3)).
Units = Annotated[Decimal, Field(gt=0, le=9999, max_digits=7, decimal_places=3),
                  PlainSerializer(_units_json, return_type=int | float, when_used="json")]
# Ids the practice gives its patients, coverages and facilities (also used in URLs).
RecordId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class RequestBody(BaseModel):
    """A request body: unknown fields are refused (a typo is a 422, not silently dropped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(RequestBody):
    line1: Annotated[str, StringConstraints(min_length=1, max_length=55)]
    line2: Annotated[str, StringConstraints(max_length=55)] | None = None
    city: Annotated[str, StringConstraints(min_length=2, max_length=30)]
    state: Annotated[str, StringConstraints(pattern="^[A-Z]{2}$")]
    postal_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}(-?[0-9]{4})?$")]


class PersonIn(RequestBody):
    first_name: Text
    last_name: Text
    birth_date: date
    gender: Annotated[str, StringConstraints(pattern="^[MFU]$")]
    address: AddressIn | None = None


class PatientIn(PersonIn):
    id: Text = Field(description="The EHR's patient id")


class CoverageIn(RequestBody):
    payer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,15}$")]
    member_id: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    group_number: Annotated[str, StringConstraints(max_length=50)] | None = None
    # SBR01: this payer's place in the order of benefits.
    payer_responsibility: Literal["P", "S", "T"] = "P"
    # SBR09 claim filing indicator (CI commercial, MB Medicare Part B, MC Medicaid, BL BCBS, ...).
    claim_filing_indicator: Annotated[str, StringConstraints(pattern="^[0-9A-Z]{2}$")] = "CI"
    # PAT01 (X12 individual relationship code); 18 = self: the patient is the subscriber.
    relationship_to_subscriber: Literal["18", "01", "19", "20", "21", "39", "40", "53", "G8"] = "18"
    subscriber: PersonIn | None = Field(default=None, description="Required when the patient is not the subscriber")


class ProviderIn(RequestBody):
    npi: Npi
    name: Text | None = Field(default=None, description="Organization name (billing provider)")
    first_name: Text | None = None
    last_name: Text | None = None
    tax_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")] | None = None
    taxonomy_code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{9}X$")] | None = None
    address: AddressIn | None = None


class ServiceFacilityIn(RequestBody):
    """837P 2310C / 837I 2310E: where the services were rendered, when not at the billing address."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    npi: Npi | None = None
    address: AddressIn


class InstitutionalIn(RequestBody):
    """What an 837I needs beyond the lines (UB-04 form locators in brackets)."""

    # Facility type (2 digits) + frequency (1 character), with or without the leading zero
    # (FL 4, e.g. 0131 hospital outpatient admit-through-discharge); 837I CLM05-1 and CLM05-3.
    type_of_bill: Annotated[str, StringConstraints(pattern=r"^0?[1-8][0-9][0-9A-Z]$")]
    admission_date: date | None = None  # FL 12, DTP*435
    admission_hour: Annotated[int, Field(ge=0, le=23)] | None = None  # FL 13, DTP*435 DT
    admission_type: Annotated[str, StringConstraints(pattern=r"^[1-9]$")] | None = None  # FL 14, CL101
    admission_source: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]$")] | None = None  # FL 15, CL102
    discharge_hour: Annotated[int, Field(ge=0, le=23)] | None = None  # FL 16, DTP*096
    patient_status: Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")]  # FL 17, CL103
    statement_from: date | None = Field(default=None, description="FL 6; default: the first date of service")
    statement_to: date | None = Field(default=None, description="FL 6; default: the last date of service")
    admitting_diagnosis: str | None = None  # FL 69, HI*ABJ

    @field_validator("admitting_diagnosis")
    @classmethod
    def _icd10(cls, value: str | None) -> str | None:
        return None if value is None else _icd10_code(value)

    @property
    def facility_type(self) -> str:
        return self.type_of_bill[-3:-1]

    @property
    def frequency_code(self) -> str:
        return self.type_of_bill[-1]


def _icd10_code(value: str) -> str:
    if not ICD10_CM.match(value.strip().upper()):
        raise ValueError(f"{value!r} is not an ICD-10-CM code")
    return normalize_icd10(value.strip())


class ChargeLineIn(RequestBody):
    # CPT/HCPCS: required on a professional line; on an institutional line when the service has
    # one (837I SV202, e.g. outpatient services priced by HCPCS).
    procedure_code: Annotated[str, StringConstraints(to_upper=True)] | None = None
    # NUBC revenue code (UB-04 FL 42, 837I SV201): required on an institutional line.
    revenue_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    modifiers: list[Annotated[str, StringConstraints(to_upper=True)]] = Field(default_factory=list, max_length=4)
    units: Units = Decimal(1)
    # 837I SV204: UN units, DA days (accommodation revenue codes).
    unit_basis: Literal["UN", "DA"] = "UN"
    charge_amount: PositiveMoney
    service_date: date
    service_date_to: date | None = None
    place_of_service: str | None = None
    # 837P SV107: 1-4 pointers into diagnosis_codes (not used on an 837I).
    diagnosis_pointers: list[Annotated[int, Field(ge=1, le=MAX_PROFESSIONAL_DIAGNOSES)]] = Field(
        default_factory=list, max_length=4)

    @field_validator("procedure_code")
    @classmethod
    def _procedure(cls, value: str | None) -> str | None:
        if value is not None and not PROCEDURE_CODE.match(value):
            raise ValueError("a CPT or HCPCS Level II code is five characters (e.g. 99213, G0439)")
        return value

    @field_validator("modifiers")
    @classmethod
    def _modifiers(cls, values: list[str]) -> list[str]:
        for value in values:
            if not MODIFIER.match(value):
                raise ValueError(f"modifier {value!r} is not two letters or digits")
        return values

    @field_validator("place_of_service")
    @classmethod
    def _pos(cls, value: str | None) -> str | None:
        if value is not None and not PLACE_OF_SERVICE.match(value):
            raise ValueError("place of service is a two-digit CMS code")
        return value

    @field_validator("service_date")
    @classmethod
    def _not_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("the date of service is in the future")
        return value


# (embedded field, reference field): a party is sent in full or named by its registered id.
PARTY_REFERENCES = (
    ("patient", "patient_id"), ("billing_provider", "billing_provider_npi"),
    ("rendering_provider", "rendering_provider_npi"), ("referring_provider", "referring_provider_npi"),
    ("supervising_provider", "supervising_provider_npi"), ("attending_provider", "attending_provider_npi"),
    ("service_facility", "service_facility_id"),
)
_PROFESSIONAL_ONLY = ("rendering_provider", "referring_provider", "supervising_provider")


# An encounter as an EHR sends it (synthetic: the NPI is a test number with a valid check digit),
# shown in the OpenAPI and sent by the API fuzzer's examples phase.
ENCOUNTER_EXAMPLE = {
    "encounter_id": "EHR-1001",
    "patient": {"id": "P-1", "first_name": "Testy", "last_name": "Synthetic", "birth_date": "1979-04-12", "gender": "F",
                "address": {"line1": "12 Example Lane", "city": "Springfield", "state": "IL", "postal_code": "62701"}},
    "coverage": {"payer_id": "60054", "member_id": "XJ123456"},
    "billing_provider": {"npi": "1234567893", "tax_id": "123456789", "name": "Synthetic Family Clinic",
                         "address": {"line1": "100 Main Street", "city": "Springfield", "state": "IL",
                                     "postal_code": "627011234"}},
    "diagnosis_codes": ["E11.9", "I10"],
    "lines": [{"procedure_code": "99213", "charge_amount": "125.00", "service_date": "2026-11-20",
               "diagnosis_pointers": [1, 2]}],
}


class EncounterIn(RequestBody):
    model_config = ConfigDict(json_schema_extra={"examples": [ENCOUNTER_EXAMPLE]})

    encounter_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    # professional: an 837P; institutional: an 837I (needs `institutional` and revenue codes).
    setting: Literal["professional", "institutional"] = "professional"
    patient: PatientIn | None = None
    patient_id: Text | None = Field(default=None, description="A patient registered with PUT /v1/patients/{id}")
    # Omitted: the patient's registered coverages active on the dates of service, in order of benefits.
    coverage: CoverageIn | None = None
    # The next payers in the order of benefits (secondary, tertiary), billed after `coverage` adjudicates.
    other_coverages: list[CoverageIn] = Field(default_factory=list, max_length=2)
    billing_provider: ProviderIn | None = None
    billing_provider_npi: Npi | None = None
    rendering_provider: ProviderIn | None = None
    rendering_provider_npi: Npi | None = None
    referring_provider: ProviderIn | None = None
    referring_provider_npi: Npi | None = None
    supervising_provider: ProviderIn | None = None
    supervising_provider_npi: Npi | None = None
    attending_provider: ProviderIn | None = None
    attending_provider_npi: Npi | None = None
    service_facility: ServiceFacilityIn | None = None
    service_facility_id: RecordId | None = None
    institutional: InstitutionalIn | None = None
    prior_authorization: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    place_of_service: str = "11"
    # The first is the principal diagnosis (837P HI*ABK; 837I HI*ABK, the others HI*ABF).
    diagnosis_codes: list[str] = Field(min_length=1, max_length=MAX_INSTITUTIONAL_DIAGNOSES)
    lines: list[ChargeLineIn] = Field(min_length=1, max_length=MAX_ENCOUNTER_LINES)

    @field_validator("diagnosis_codes")
    @classmethod
    def _icd10(cls, values: list[str]) -> list[str]:
        return [_icd10_code(value) for value in values]

    @field_validator("place_of_service")
    @classmethod
    def _pos(cls, value: str) -> str:
        if not PLACE_OF_SERVICE.match(value):
            raise ValueError("place of service is a two-digit CMS code")
        return value

    @property
    def institutional_claim(self) -> bool:
        return self.setting == "institutional"

    @property
    def frequency_code(self) -> str:
        """CLM05-3 of an original claim: 1 on an 837P, the type of bill's frequency on an 837I."""
        return self.institutional.frequency_code if self.institutional_claim and self.institutional else "1"

    @property
    def max_lines_per_claim(self) -> int:
        return MAX_INSTITUTIONAL_LINES if self.institutional_claim else MAX_PROFESSIONAL_LINES

    def consistency_errors(self) -> list[tuple[str, str]]:
        """(JSON pointer, message) for every rule that spans fields: each party given once (in full
        or by id), what each setting needs, diagnosis pointers within the diagnosis list."""
        errors = self._party_errors() + self._coverage_errors()
        errors += self._institutional_errors() if self.institutional_claim else self._professional_errors()
        return errors

    def _party_errors(self) -> list[tuple[str, str]]:
        errors = []
        for embedded, reference in PARTY_REFERENCES:
            if getattr(self, embedded) is not None and getattr(self, reference) is not None:
                errors.append((f"/{reference}", f"give either {embedded} or {reference}, not both"))
        for embedded, reference in (("patient", "patient_id"), ("billing_provider", "billing_provider_npi")):
            if getattr(self, embedded) is None and getattr(self, reference) is None:
                errors.append((f"/{embedded}", f"required: the {embedded.replace('_', ' ')} in full, or {reference}"))
        return errors

    def _coverage_errors(self) -> list[tuple[str, str]]:
        if self.coverage is None:
            if self.other_coverages:
                return [("/coverage", "other_coverages need the coverage billed first")]
            return []
        errors, earlier = [], PAYER_RESPONSIBILITY_ORDER.index(self.coverage.payer_responsibility)
        for index, other in enumerate(self.other_coverages):
            position = PAYER_RESPONSIBILITY_ORDER.index(other.payer_responsibility)
            if position <= earlier:
                errors.append((f"/other_coverages/{index}/payer_responsibility",
                               "other coverages follow the billed coverage in order of benefits (P, then S, then T)"))
            earlier = max(earlier, position)
        return errors

    def _professional_errors(self) -> list[tuple[str, str]]:
        errors = []
        if len(self.diagnosis_codes) > MAX_PROFESSIONAL_DIAGNOSES:
            errors.append((f"/diagnosis_codes/{MAX_PROFESSIONAL_DIAGNOSES}",
                           f"a professional claim carries at most {MAX_PROFESSIONAL_DIAGNOSES} diagnosis codes"))
        for field in ("institutional", "attending_provider", "attending_provider_npi"):
            if getattr(self, field) is not None:
                errors.append((f"/{field}", "only on an institutional claim (setting: institutional)"))
        for index, line in enumerate(self.lines):
            if line.procedure_code is None:
                errors.append((f"/lines/{index}/procedure_code", "required on a professional claim"))
            if line.revenue_code is not None:
                errors.append((f"/lines/{index}/revenue_code", "only on an institutional claim"))
            if not line.diagnosis_pointers:
                errors.append((f"/lines/{index}/diagnosis_pointers",
                               "a professional line points at 1 to 4 diagnoses (SV107)"))
            for position, pointer in enumerate(line.diagnosis_pointers):
                if pointer > len(self.diagnosis_codes):
                    errors.append((f"/lines/{index}/diagnosis_pointers/{position}",
                                   f"points at diagnosis {pointer}, but only {len(self.diagnosis_codes)} were sent"))
        return errors

    def _institutional_errors(self) -> list[tuple[str, str]]:
        errors = []
        details = self.institutional
        if details is None:
            errors.append(("/institutional", "required on an institutional claim: type of bill, patient status, ..."))
        else:
            if details.frequency_code in ("7", "8"):
                errors.append(("/institutional/type_of_bill", "replacements (7) and voids (8) are sent with "
                               "POST /v1/claims/{id}/replace and /void"))
            if details.admission_hour is not None and details.admission_date is None:
                errors.append(("/institutional/admission_hour", "needs admission_date"))
            if details.statement_from and details.statement_to and details.statement_to < details.statement_from:
                errors.append(("/institutional/statement_to", "the statement period ends before it starts"))
        for embedded in _PROFESSIONAL_ONLY:
            for field in (embedded, f"{embedded}_npi"):
                if getattr(self, field) is not None:
                    errors.append((f"/{field}", "an institutional claim names its attending provider; this role "
                                                "is sent on professional claims only"))
        for index, line in enumerate(self.lines):
            if line.revenue_code is None:
                errors.append((f"/lines/{index}/revenue_code", "required on an institutional claim (SV201)"))
        return errors


class ClaimLineOut(BaseModel):
    line_number: int
    procedure_code: str | None
    revenue_code: str | None = None
    modifiers: list[str]
    units: Units
    charge_amount: Money
    service_date: date
    service_date_to: date | None = None
    place_of_service: str | None
    diagnosis_pointers: list[int]


class ScrubHitOut(BaseModel):
    rule_id: str
    severity: str
    message: str
    pointer: str


class HistoryEntryOut(BaseModel):
    occurred_at: datetime
    kind: str
    from_status: str | None
    to_status: str | None
    event_id: UUID | None
    detail: dict


class RelatedClaimOut(BaseModel):
    """Another claim of the same encounter: a part split off it, or the claim for another payer."""

    id: UUID
    patient_control_number: str
    payer_id: str
    payer_responsibility: str
    split_part: int
    status: str


class LineAdjudicationOut(BaseModel):
    line_number: int
    paid_amount: Money
    adjustments: list[dict] = Field(default_factory=list, description="group_code, carc, amount")


class PriorPayerAdjudicationOut(BaseModel):
    """A previous payer's decision, sent to the next payer in loops 2320 (claim) and 2430 (lines)."""

    claim_id: UUID
    payer_id: str
    payer_responsibility: str
    remittance_id: UUID | None = None
    claim_status_code: str | None = None
    payer_claim_control_number: str | None = None
    adjudication_date: date
    paid_amount: Money
    patient_responsibility_amount: Money
    claim_adjustments: list[dict] = Field(default_factory=list, description="group_code, carc, amount")
    lines: list[LineAdjudicationOut] = Field(default_factory=list)


class ClaimOut(BaseModel):
    id: UUID
    encounter_id: str
    patient_control_number: str
    patient_id: str
    payer_id: str
    claim_type: str
    # SBR01: P primary, S secondary, T tertiary.
    payer_responsibility: str = "P"
    split_part: int = 1
    prior_claim_id: UUID | None = None
    version: int
    status: str
    payer_claim_control_number: str | None
    frequency_code: str
    filing_deadline: date | None
    coverage_status: str
    total_charge: Money
    paid_amount: Money
    service_date_from: date
    service_date_to: date
    diagnosis_codes: list[str]
    created_at: datetime
    updated_at: datetime
    lines: list[ClaimLineOut]
    scrub_hits: list[ScrubHitOut] = Field(default_factory=list, description="The scrubber's findings on this version")
    prior_payer_adjudications: list[PriorPayerAdjudicationOut] = Field(default_factory=list)
    related_claims: list[RelatedClaimOut] = Field(
        default_factory=list, description="The other claims of this encounter (split parts, other payers)")
    history: list[HistoryEntryOut]


class ClaimSummaryOut(BaseModel):
    id: UUID
    encounter_id: str
    patient_control_number: str
    patient_id: str
    payer_id: str
    claim_type: str
    payer_responsibility: str
    split_part: int
    status: str
    coverage_status: str
    total_charge: Money
    paid_amount: Money
    created_at: datetime


class LateChargesIn(RequestBody):
    """Charges captured after the encounter was sent, added before its claim goes out."""

    lines: list[ChargeLineIn] = Field(min_length=1, max_length=MAX_ENCOUNTER_LINES)


MAX_BATCH = 500


class EncounterBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one, so one bad encounter does not refuse the others.
    encounters: list[dict] = Field(min_length=1, max_length=MAX_BATCH)


class BatchItemOut(BaseModel):
    index: int
    status: int
    claim: ClaimOut | None = None
    problem: dict | None = None


class EncounterBatchOut(BaseModel):
    created: int
    failed: int
    results: list[BatchItemOut]
