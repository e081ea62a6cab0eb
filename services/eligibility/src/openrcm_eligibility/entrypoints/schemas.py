"""Bodies of the eligibility API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from openrcm_shared.money import Money, NonNegativeMoney

ServiceType = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{1,2}$")]  # X279 EQ01 / EB03 codes
Npi = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]
PatientId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
CoverageId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ProviderName = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"^[^*:^~|\r\n]+$")]


class EligibilityCheckRequest(BaseModel):
    """Ask the payer about a registered coverage for a date of service (a 270)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    coverage_id: CoverageId
    patient_id: PatientId | None = Field(default=None, description="Only when several patients have this coverage id")
    service_date: date
    service_types: Annotated[list[ServiceType], Field(min_length=1, max_length=99)] = ["30"]
    provider_npi: Npi
    provider_name: ProviderName
    use_cache: bool = Field(default=True, description="false: ask the payer even when a cached answer stands")


class EligibilityCheckIn(BaseModel):
    """A coverage answer from a portal or a phone call, recorded by hand (POST /v1/eligibility-responses)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    patient_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    payer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,15}$")]
    member_id: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    service_date: date | None = None
    coverage_active: bool
    plan_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    copay_amount: NonNegativeMoney | None = None
    deductible_amount: NonNegativeMoney | None = None
    deductible_remaining: NonNegativeMoney | None = None
    coinsurance_percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] | None = None
    out_of_pocket_remaining: NonNegativeMoney | None = None


CheckStatus = Literal["pending", "active", "inactive", "unknown", "error"]


class EligibilityCheckOut(BaseModel):
    """A check and, once answered, the normalized answer (`result`; see docs/eligibility.md)."""

    id: UUID
    status: CheckStatus
    origin: Literal["real_time", "batch", "upload", "recorded"]
    coverage_id: str | None = None
    patient_id: str | None
    payer_id: str
    member_id: str
    service_date: date
    service_types: list[str] | None = None
    provider_npi: str | None = None
    requested_at: datetime
    checked_at: datetime | None
    attempts: int = 0
    last_error: str | None = None
    batch_id: UUID | None = None
    cached: bool = False
    coverage_active: bool | None
    plan_name: str | None
    copay_amount: Money | None
    deductible_amount: Money | None
    deductible_remaining: Money | None
    coinsurance_percent: Decimal | None
    out_of_pocket_remaining: Money | None
    result: dict[str, Any] | None = None
    request_x12: str | None = Field(default=None, description="The 270 sent (with ?include_x12=true)")
    response_x12: str | None = Field(default=None, description=(
        "The 271 received (with ?include_x12=true); for a check an uploaded file answered, its own transaction "
        "set in that file's envelope; null once retention has deleted the uploaded file's content"))


class CheckSummaryOut(BaseModel):
    id: UUID
    status: CheckStatus
    origin: str
    service_date: date
    requested_at: datetime
    checked_at: datetime | None
    coverage_active: bool | None
    last_error: str | None = None


class CoverageEligibilityOut(BaseModel):
    coverage_id: str
    patient_id: str
    payer_id: str
    latest: EligibilityCheckOut | None
    history: list[CheckSummaryOut]


class UploadedResultOut(BaseModel):
    check_id: UUID
    matched_by: Literal["trace_number", "member_and_payer", "none"]
    status: CheckStatus
    coverage_id: str | None
    patient_id: str | None
    member_id: str | None
    payer_id: str | None
    trace_numbers: list[str]


class UploadOut(BaseModel):
    results: list[UploadedResultOut]


class BatchItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    coverage_id: CoverageId
    patient_id: PatientId | None = None
    service_date: date
    service_types: Annotated[list[ServiceType], Field(min_length=1, max_length=99)] = ["30"]


class EligibilityBatchIn(BaseModel):
    """Checks to ask together (tomorrow's appointments), all for one provider."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    provider_npi: Npi
    provider_name: ProviderName
    items: Annotated[list[BatchItemIn], Field(min_length=1, max_length=10_000)]


class EligibilityBatchOut(BaseModel):
    id: UUID
    check_count: int
    created_at: datetime
    finished_at: datetime | None
    done: int = Field(description="answered: active, inactive or unknown")
    pending: int
    failed: int = Field(description="ended in error (AAA that cannot be retried, or retries exhausted)")
    counts: dict[str, int] = Field(description="checks per status")
    check_ids: list[UUID] | None = None


class PlannedServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    procedure_code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{5}$")]
    modifiers: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$")]], Field(max_length=4)] = []
    units: Annotated[Decimal, Field(gt=0, le=9999, decimal_places=3)] = Decimal(1)
    charge_amount: NonNegativeMoney | None = Field(default=None, description="The practice's charge for all units")
    service_type: ServiceType | None = Field(default=None, description="The 271 service type; default by procedure")
    description: Annotated[str, StringConstraints(max_length=200)] | None = None
    diagnosis_codes: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9A-Z.]{2,7}$")]],
                               Field(max_length=12)] = []


class EstimatePatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    first_name: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    last_name: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    birth_date: date


class EstimateRequest(BaseModel):
    """Planned services for one date. With `coverage_id`: the payer's benefits and contracted rates
    price them; without: a self-pay estimate at the practice's charges (a good-faith estimate PDF
    with `Accept: application/pdf`, which needs `patient`, `primary_service` and the provider's TIN
    and address)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    coverage_id: CoverageId | None = None
    patient_id: PatientId | None = None
    service_date: date
    network: Literal["in", "out"] = "in"
    provider_npi: Npi
    provider_name: ProviderName
    services: Annotated[list[PlannedServiceIn], Field(min_length=1, max_length=50)]
    patient: EstimatePatientIn | None = None
    primary_service: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    provider_tax_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")] | None = None
    provider_address: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    provider_state: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    separately_scheduled: Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=20)] = []


class EstimateLineOut(BaseModel):
    line_number: int
    procedure_code: str
    service_type: str
    units: Decimal
    charge: Money | None
    allowed_amount: Money
    allowed_source: Literal["fee_schedule", "charge"]
    deductible: Money
    copay: Money
    coinsurance: Money
    not_covered: Money
    patient_responsibility: Money
    payer_pays: Money
    explanation: list[str]


class EstimateOut(BaseModel):
    self_pay: bool
    check_id: UUID | None = Field(description="The eligibility check whose benefits priced it")
    payer_id: str | None
    service_date: date
    network: str
    lines: list[EstimateLineOut]
    total_allowed: Money
    total_patient_responsibility: Money
    total_payer_pays: Money
    deductible_remaining_after: Money | None
    out_of_pocket_remaining_after: Money | None
    notes: list[str]
