"""Events produced by the claims context. Key: the claim id, so one claim's events stay in order."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from openrcm_shared.contracts import topics
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.money import Money, NonNegativeMoney

ClaimStatus = Literal["held", "ready", "submitted", "accepted_by_clearinghouse", "accepted_by_payer", "rejected",
                      "paid", "partially_paid", "denied", "voided"]


class SubmittedClaimLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    line_number: int
    procedure_code: str  # "" on an institutional line billed by revenue code alone (no HCPCS in SV202)
    modifiers: list[str] = []
    units: int  # whole units: `quantity` rounded up, for consumers written before fractions were kept
    charge_amount: NonNegativeMoney
    service_date: date
    revenue_code: str | None = None  # institutional lines: the NUBC revenue code (837I SV201)
    # The units as billed (SV104 / SV205): fractional when the service is, up to three decimals.
    quantity: Decimal | None = None
    # The procedure in words, as a patient statement shows it (from the claims service's code sets).
    description: str | None = None


class ClaimSubmitted(IntegrationEvent):
    event_type: ClassVar[str] = "org.openrcm.claims.claim_submitted.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    encounter_id: str
    patient_id: str
    payer_id: str
    patient_control_number: str
    total_charge: NonNegativeMoney
    service_date_from: date
    service_date_to: date
    submitted_at: datetime
    lines: list[SubmittedClaimLine]
    claim_type: Literal["professional", "institutional"] | None = None
    # SBR01 of the claim's payer: P primary, S secondary, T tertiary (coordination of benefits).
    payer_responsibility: Literal["P", "S", "T"] | None = None
    # The rendering (or attending) provider's name, as a patient statement shows it.
    provider_name: str | None = None
    # Where the claim went (the 837's ISA13 and ST02): the timely-filing proof of an appeal names them.
    interchange_control_number: str | None = None
    transaction_set_control_number: str | None = None
    frequency_code: str | None = None  # CLM05-3: 1 original, 7 replacement, 8 void
    # The facts an appeal letter states, as the 837 carried them. These are the minimum an appeal to
    # the payer needs (45 CFR 164.506(c): payment), and only the denials service reads them; they
    # are absent on events published before they were added.
    patient_name: str | None = None
    member_id: str | None = None
    payer_name: str | None = None
    billing_provider_name: str | None = None
    billing_provider_npi: str | None = None
    diagnosis_codes: list[str] = []
    # For A/R reporting by provider and financial class (absent on events published before them):
    # the rendering (2310B NM109) NPI, and the subscriber's SBR09 claim filing indicator (CI
    # commercial, MB Medicare Part B, MC Medicaid, BL BCBS, ...); the billing NPI is above.
    rendering_provider_npi: str | None = None
    claim_filing_indicator: str | None = None


class ClaimHeld(IntegrationEvent):
    """A claim version did not pass the scrubber (or the 837 generator); it waits in the held
    queue for its data to be fixed. Rule ids only: no PHI."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_held.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    version: int
    rule_set_version: str
    rule_ids: list[str]


class ClaimAcceptedByClearinghouse(IntegrationEvent):
    """A 999 accepted the claim's transaction set, or a 277CA said A1 (received)."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_accepted_by_clearinghouse.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    version: int
    acknowledgement: Literal["999", "277CA"]
    # The acknowledgement's interchange control number (ISA13), for the claim's timely-filing proof.
    control_number: str | None = None


class ClaimAcceptedByPayer(IntegrationEvent):
    """A 277CA said A2: accepted into the payer's adjudication system, under its control number."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_accepted_by_payer.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    version: int
    payer_claim_control_number: str | None = None
    # The 277CA's interchange control number (ISA13), for the claim's timely-filing proof.
    control_number: str | None = None


class RejectionReason(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    code: str  # 277CA category:status[:entity], or 999 IK3/IK4 error codes
    segment_id: str | None = None
    element_position: int | None = None


class ClaimRejected(IntegrationEvent):
    """A 999 rejected the transaction set, or a 277CA said A3/A4/A6/A7/A8: fix and resubmit."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_rejected.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    version: int
    acknowledgement: Literal["999", "277CA"]
    reasons: list[RejectionReason]


class ClaimFilingDeadlineApproaching(IntegrationEvent):
    """A claim the payer has not accepted yet is 30, then 7, days from its timely filing deadline."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_filing_deadline_approaching.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    status: ClaimStatus
    filing_deadline: date
    days_before: int


class ClaimFlaggedForFollowUp(IntegrationEvent):
    """A submitted claim got no acknowledgement within the payer's window: someone should call."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_flagged_for_follow_up.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    submitted_at: datetime
    days_without_acknowledgement: int


class ClaimCoverageRecorded(IntegrationEvent):
    """An eligibility answer was recorded on an open claim."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_coverage_recorded.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    eligibility_check_id: UUID
    coverage_active: bool


class ClaimDenialExpected(IntegrationEvent):
    """A claim already sent to the payer bills a date of service the payer has since answered, to
    an eligibility check, that the coverage is inactive on (271 EB01 6-8): the claim is not
    recalled, but the payer will likely deny it (CARC 26/27), so someone should act now (check the
    coverage, bill the right payer or the patient)."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_denial_expected.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    payer_id: str
    status: ClaimStatus
    reason: Literal["coverage_inactive"]
    eligibility_check_id: UUID
    service_date: date


class ClaimStatusChanged(IntegrationEvent):
    """The claim moved along its state machine (see the claims service's transition table)."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_status_changed.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    from_status: ClaimStatus
    to_status: ClaimStatus
    paid_amount: Money | None = None
    remittance_id: UUID | None = None


class ClaimForwardedByPayer(IntegrationEvent):
    """The payer says another payer has the claim now: it forwarded it after adjudicating (a
    crossover, 835 CLP02 19/20/21 with NM1*TT), or it was not theirs (CLP02 23). The practice does
    not send that payer a claim itself; the forwarded payer's remittance is awaited."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_forwarded_by_payer.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    payer_id: str
    reason: Literal["crossover", "not_our_claim"]
    claim_status_code: str | None = None
    forwarded_to_payer_id: str | None = None
    forwarded_to_payer_name: str | None = None
    remittance_id: UUID | None = None


class NextPayerClaimCreated(IntegrationEvent):
    """A payer adjudicated a claim and the patient has a next coverage in the order of benefits: a
    claim for that payer (secondary or tertiary) was created, carrying the previous payers'
    adjudication (837 loops 2320/2430). Keyed by the new claim."""

    event_type: ClassVar[str] = "org.openrcm.claims.next_payer_claim_created.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    prior_claim_id: UUID
    encounter_id: str
    payer_id: str
    payer_responsibility: Literal["S", "T"]
    prior_payer_id: str
    total_charge: NonNegativeMoney
    prior_paid_amount: Money
    # What the previous payer left the patient (its PR total): the part of the charge the next payer
    # is asked to cover. Absent on events published before it was added.
    prior_patient_responsibility_amount: Money | None = None


class ClaimStatusInquiryAnswered(IntegrationEvent):
    """The payer answered a claim status inquiry (X12 277 to our 276, 005010X212): its claim status
    category (STC01-1, e.g. A1 acknowledged, P1 pending, F1 finalized/paid, F2 denied) and status
    code (STC01-2, the Health Care Claim Status Code list), as of the payer's date."""

    event_type: ClassVar[str] = "org.openrcm.claims.claim_status_inquiry_answered.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    payer_id: str
    category_code: str
    status_code: str
    entity_code: str | None = None
    status_date: date | None = None
    payer_claim_control_number: str | None = None
    total_charge: Money | None = None
    paid_amount: Money | None = None
    answered_at: datetime


class RegisteredPerson(BaseModel):
    """Name, birth date and gender exactly as registered: what a payer matches a 270 on."""

    model_config = ConfigDict(extra="ignore")

    first_name: str
    last_name: str
    birth_date: date
    gender: str


class CoverageRegistered(IntegrationEvent):
    """A patient's coverage was registered or changed (PUT /v1/patients/{id}/coverages/{id}), or the
    patient's demographics were. Key: the patient id, so a patient's coverage changes stay in order.

    It carries the patient's and subscriber's names and birth dates, beyond the usual ids and codes:
    the eligibility service must send them in its 270 (the payer finds the member by them, X279
    2100C/2100D), and it owns no registration of its own. Only the eligibility group reads it."""

    event_type: ClassVar[str] = "org.openrcm.claims.coverage_registered.v1"
    topic: ClassVar[str] = topics.CLAIMS
    key_field: ClassVar[str] = "patient_id"

    patient_id: str
    coverage_id: str
    payer_id: str
    payer_name: str | None = None  # as registered (the 270's NM1*PR)
    member_id: str
    group_number: str | None = None
    relationship_to_subscriber: str  # PAT01/SBR02 codes: 18 self, 01 spouse, 19 child, ...
    order_of_benefits: int
    effective_from: date
    effective_to: date | None = None
    patient: RegisteredPerson
    subscriber: RegisteredPerson | None = None  # None when the patient is the subscriber
    registered_at: datetime
