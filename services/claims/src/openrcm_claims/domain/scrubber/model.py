"""The scrubber's input and output: a neutral, frozen view of one claim, and the hits found on it.

The claims service maps its own rows onto these (the scrubber imports nothing from the service
layer). Codes arrive normalised: ICD-10-CM without the dot, procedure codes and modifiers upper case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

PROFESSIONAL = "professional"
INSTITUTIONAL = "institutional"
CLAIM_TYPES = frozenset({PROFESSIONAL, INSTITUTIONAL})

BLOCK = "block"
WARN = "warn"
SEVERITIES = frozenset({BLOCK, WARN})


@dataclass(frozen=True)
class ScrubLine:
    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...]
    units: Decimal
    charge_amount: Decimal
    service_date: date
    service_date_to: date | None
    place_of_service: str | None
    diagnosis_pointers: tuple[int, ...]
    revenue_code: str | None = None  # 837I SV201; procedure_code is "" on an institutional line without one


@dataclass(frozen=True)
class ScrubProvider:
    npi: str | None
    tax_id: str | None
    name: str | None
    address_line1: str | None
    city: str | None
    state: str | None
    postal_code: str | None


@dataclass(frozen=True)
class ScrubPayer:
    payer_id: str
    name: str
    timely_filing_days: int
    enrollment_required: bool
    claim_types: frozenset[str]


@dataclass(frozen=True)
class ScrubInstitutional:
    """What an 837I carries beyond the lines: type of bill (facility type + frequency, 3
    characters), admission (DTP*435, CL101, CL102), patient status (CL103), statement period (DTP*434)."""

    type_of_bill: str | None
    admission_date: date | None
    admission_type: str | None
    admission_source: str | None
    patient_status: str | None
    statement_from: date | None
    statement_to: date | None


@dataclass(frozen=True)
class ScrubLineAdjudication:
    line_number: int
    paid_amount: Decimal
    adjustment_total: Decimal


@dataclass(frozen=True)
class ScrubPriorPayer:
    """A previous payer's adjudication that goes out on this claim (2320 AMT*D and CAS, 2430)."""

    payer_id: str
    paid_amount: Decimal
    claim_adjustment_total: Decimal
    lines: tuple[ScrubLineAdjudication, ...]


@dataclass(frozen=True)
class ScrubEligibility:
    """The payer's latest eligibility answer (a 271, from the eligibility service) for one date of service."""

    service_date: date
    status: str  # active | inactive
    check_id: str
    authorization_required_service_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScrubClaim:
    claim_type: str  # "professional" | "institutional"
    patient_control_number: str
    total_charge: Decimal
    billing_provider: ScrubProvider
    rendering_provider: ScrubProvider | None
    referring_provider: ScrubProvider | None
    subscriber_member_id: str | None
    subscriber_last_name: str | None
    subscriber_birth_date: date | None
    payer: ScrubPayer | None
    diagnosis_codes: tuple[str, ...]  # normalised, no dot
    place_of_service: str | None
    lines: tuple[ScrubLine, ...]
    prior_authorization: str | None = None
    supervising_provider: ScrubProvider | None = None
    attending_provider: ScrubProvider | None = None
    service_facility: ScrubProvider | None = None
    institutional: ScrubInstitutional | None = None
    prior_payers: tuple[ScrubPriorPayer, ...] = ()
    eligibility: tuple[ScrubEligibility, ...] = ()  # answers for this patient and payer on the claim's dates


@dataclass(frozen=True)
class RuleHit:
    rule_id: str
    severity: str  # "block" | "warn"
    message: str  # never PHI: codes, counts and amounts only
    pointer: str  # RFC 6901 pointer into the claim, e.g. "/lines/0/modifiers/1"


@dataclass(frozen=True)
class ScrubResult:
    rule_set_version: str
    hits: tuple[RuleHit, ...]

    @property
    def blocked(self) -> bool:
        """True when any hit must stop the claim from going to the payer."""
        return any(hit.severity == BLOCK for hit in self.hits)


class Enrollments(Protocol):
    """The payer-enrollment registry, as the scrubber sees it (the service supplies the adapter)."""

    def is_enrolled(self, npi: str, payer_id: str, on: date) -> bool: ...
