"""Request and response bodies of the claims API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from openrcm_shared.codes import ICD10_CM, MODIFIER, PLACE_OF_SERVICE, PROCEDURE_CODE, normalize_icd10, npi_is_valid
from openrcm_shared.money import Money, PositiveMoney

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# 837P 2400 loops: at most 50 service lines per claim (005010X222A1).
MAX_LINES = 50
# 2300 HI: up to 12 diagnosis codes on a professional claim.
MAX_DIAGNOSES = 12


def _npi(value: str) -> str:
    if not npi_is_valid(value):
        raise ValueError("not a valid NPI (10 digits with a Luhn check digit)")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(_Body):
    line1: Annotated[str, StringConstraints(min_length=1, max_length=55)]
    line2: Annotated[str, StringConstraints(max_length=55)] | None = None
    city: Annotated[str, StringConstraints(min_length=2, max_length=30)]
    state: Annotated[str, StringConstraints(pattern="^[A-Z]{2}$")]
    postal_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}(-?[0-9]{4})?$")]


class PersonIn(_Body):
    first_name: Text
    last_name: Text
    birth_date: date
    gender: Annotated[str, StringConstraints(pattern="^[MFU]$")]
    address: AddressIn | None = None


class PatientIn(PersonIn):
    id: Text = Field(description="The EHR's patient id")


class CoverageIn(_Body):
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


class ProviderIn(_Body):
    npi: str
    name: Text | None = Field(default=None, description="Organization name (billing provider)")
    first_name: Text | None = None
    last_name: Text | None = None
    tax_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")] | None = None
    taxonomy_code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{9}X$")] | None = None
    address: AddressIn | None = None

    _check_npi = field_validator("npi")(classmethod(lambda cls, v: _npi(v)))


class ChargeLineIn(_Body):
    procedure_code: Annotated[str, StringConstraints(to_upper=True)]
    modifiers: list[Annotated[str, StringConstraints(to_upper=True)]] = Field(default_factory=list, max_length=4)
    units: Annotated[int, Field(gt=0, le=9999)] = 1
    charge_amount: PositiveMoney
    service_date: date
    service_date_to: date | None = None
    place_of_service: str | None = None
    diagnosis_pointers: list[Annotated[int, Field(ge=1, le=MAX_DIAGNOSES)]] = Field(min_length=1, max_length=4)

    @field_validator("procedure_code")
    @classmethod
    def _procedure(cls, value: str) -> str:
        if not PROCEDURE_CODE.match(value):
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


class EncounterIn(_Body):
    encounter_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    patient: PatientIn
    coverage: CoverageIn
    billing_provider: ProviderIn
    rendering_provider: ProviderIn | None = None
    referring_provider: ProviderIn | None = None
    prior_authorization: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    place_of_service: str = "11"
    diagnosis_codes: list[str] = Field(min_length=1, max_length=MAX_DIAGNOSES)
    lines: list[ChargeLineIn] = Field(min_length=1, max_length=MAX_LINES)

    @field_validator("diagnosis_codes")
    @classmethod
    def _icd10(cls, values: list[str]) -> list[str]:
        normalized = []
        for value in values:
            if not ICD10_CM.match(value.strip().upper()):
                raise ValueError(f"{value!r} is not an ICD-10-CM code")
            normalized.append(normalize_icd10(value.strip()))
        return normalized

    @field_validator("place_of_service")
    @classmethod
    def _pos(cls, value: str) -> str:
        if not PLACE_OF_SERVICE.match(value):
            raise ValueError("place of service is a two-digit CMS code")
        return value

    def pointer_errors(self) -> list[tuple[str, str]]:
        """(JSON pointer, message) for every diagnosis pointer beyond the diagnosis list."""
        errors = []
        for index, line in enumerate(self.lines):
            for position, pointer in enumerate(line.diagnosis_pointers):
                if pointer > len(self.diagnosis_codes):
                    errors.append((f"/lines/{index}/diagnosis_pointers/{position}",
                                   f"points at diagnosis {pointer}, but only {len(self.diagnosis_codes)} were sent"))
        return errors


class ClaimLineOut(BaseModel):
    line_number: int
    procedure_code: str
    modifiers: list[str]
    units: int
    charge_amount: Money
    service_date: date
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


class ClaimOut(BaseModel):
    id: UUID
    encounter_id: str
    patient_control_number: str
    patient_id: str
    payer_id: str
    claim_type: str
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
    history: list[HistoryEntryOut]


class ClaimSummaryOut(BaseModel):
    id: UUID
    encounter_id: str
    patient_control_number: str
    patient_id: str
    payer_id: str
    status: str
    coverage_status: str
    total_charge: Money
    paid_amount: Money
    created_at: datetime


class LateChargesIn(_Body):
    """Charges captured after the encounter was sent, added before its claim goes out."""

    lines: list[ChargeLineIn] = Field(min_length=1, max_length=MAX_LINES)


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
