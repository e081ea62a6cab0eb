"""Bodies of the reference-data API: patients, their coverages, providers and service facilities.

Each body has `problems()` for the rules that span fields, answered as 422s naming each field
(the same convention as EncounterIn.consistency_errors).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from openrcm_claims.domain.addresses import is_po_box, is_zip_plus_4
from openrcm_claims.entrypoints.schemas import AddressIn, Npi, PersonIn, Text, RequestBody

PayerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,15}$")]
ProviderRole = Literal["billing", "rendering", "referring", "supervising", "attending"]
# Roles sent as a person (NM102 = 1): 837P 2310A/B/D, 837I 2310A.
INDIVIDUAL_ROLES = frozenset({"rendering", "referring", "supervising", "attending"})


def street_address_problems(address: AddressIn | None, prefix: str) -> list[tuple[str, str]]:
    """A billing or facility address: a street (no PO box) and a nine-digit ZIP (TR3 N3/N403 notes)."""
    if address is None:
        return [(prefix, "required: a street address with ZIP+4")]
    problems = []
    if is_po_box(address.line1):
        problems.append((f"{prefix}/line1", "a street address, not a post office or lock box"))
    if not is_zip_plus_4(address.postal_code):
        problems.append((f"{prefix}/postal_code", "nine digits (ZIP+4)"))
    return problems


class PatientRecordIn(PersonIn):
    """PUT /v1/patients/{patient_id}: the patient's demographics (loops 2010BA/2010CA)."""


class PatientRecordOut(PatientRecordIn):
    model_config = ConfigDict(extra="ignore")

    patient_id: str
    updated_at: datetime


class CoverageRecordIn(RequestBody):
    """PUT /v1/patients/{patient_id}/coverages/{coverage_id}: one insurance of the patient."""

    payer_id: PayerId
    member_id: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    group_number: Annotated[str, StringConstraints(max_length=50)] | None = None
    # SBR09 claim filing indicator (CI commercial, MB Medicare Part B, MC Medicaid, BL BCBS, ...).
    claim_filing_indicator: Annotated[str, StringConstraints(pattern="^[0-9A-Z]{2}$")] = "CI"
    # PAT01 / 2320 SBR02: 18 self, 01 spouse, 19 child, ...
    relationship_to_subscriber: Literal["18", "01", "19", "20", "21", "39", "40", "53", "G8"] = "18"
    subscriber: PersonIn | None = Field(default=None, description="Required when the patient is not the subscriber")
    # Order of benefits: 1 primary, 2 secondary, 3 tertiary.
    order_of_benefits: Literal[1, 2, 3] = 1
    effective_from: date
    effective_to: date | None = None

    def problems(self) -> list[tuple[str, str]]:
        problems = []
        if self.effective_to is not None and self.effective_to < self.effective_from:
            problems.append(("/effective_to", "before effective_from"))
        if self.relationship_to_subscriber != "18" and self.subscriber is None:
            problems.append(("/subscriber", "required when the patient is not the subscriber"))
        return problems

    def active_on(self, first_day: date, last_day: date) -> bool:
        return self.effective_from <= first_day and (self.effective_to is None or last_day <= self.effective_to)


class CoverageRecordOut(CoverageRecordIn):
    model_config = ConfigDict(extra="ignore")

    patient_id: str
    coverage_id: str
    updated_at: datetime


class ProviderRecordIn(RequestBody):
    """PUT /v1/providers/{npi}: a provider of the practice and the roles it takes on claims."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = Field(
        default=None, description="Organization name (required for the billing role)")
    first_name: Text | None = None
    last_name: Text | None = None
    tax_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")] | None = None
    taxonomy_code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{9}X$")] | None = None
    address: AddressIn | None = None
    roles: list[ProviderRole] = Field(min_length=1, max_length=5)

    def problems(self) -> list[tuple[str, str]]:
        problems = []
        if "billing" in self.roles:
            # 2010AA: NM103 name, REF*EI tax id, N3/N4 street address with ZIP+4.
            if self.name is None:
                problems.append(("/name", "required for the billing role (2010AA NM103)"))
            if self.tax_id is None:
                problems.append(("/tax_id", "required for the billing role (2010AA REF*EI)"))
            problems += street_address_problems(self.address, "/address")
        if INDIVIDUAL_ROLES & set(self.roles):
            for field in ("first_name", "last_name"):
                if getattr(self, field) is None:
                    problems.append((f"/{field}", "required for the rendering, referring, supervising and "
                                                  "attending roles (a person, NM102 = 1)"))
        return problems


class ProviderRecordOut(ProviderRecordIn):
    model_config = ConfigDict(extra="ignore")

    npi: str
    updated_at: datetime


class FacilityRecordIn(RequestBody):
    """PUT /v1/facilities/{facility_id}: a service facility location (837P 2310C, 837I 2310E)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    npi: Npi | None = None
    address: AddressIn

    def problems(self) -> list[tuple[str, str]]:
        return street_address_problems(self.address, "/address")


class FacilityRecordOut(FacilityRecordIn):
    model_config = ConfigDict(extra="ignore")

    facility_id: str
    updated_at: datetime
