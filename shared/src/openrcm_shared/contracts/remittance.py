"""Events produced by the remittance context.

An ERA covers many claims: `RemittanceReceived` is keyed by the remittance id, and each claim's
outcome is published on its own, keyed by the claim id, so it lands in that claim's ordered stream.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from openrcm_shared.contracts import topics
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.money import Money

# CAS claim adjustment group codes (X12 005010X221A1, CAS01).
GroupCode = Literal["CO", "PR", "OA", "PI", "CR"]
# not_our_claim: CLP02 23, the payer says the claim is not theirs and forwarded it elsewhere.
ClaimOutcome = Literal["paid", "partially_paid", "denied", "not_our_claim"]
# CLP02 claim status codes (005010X221A1): 1/2/3 processed as primary/secondary/tertiary, 4 denied,
# 19/20/21 processed as primary/secondary/tertiary and forwarded to another payer (crossover),
# 22 reversal of previous payment, 23 not our claim, forwarded to additional payer(s), 25 predetermination.
ClaimStatusCode = Literal["1", "2", "3", "4", "19", "20", "21", "22", "23", "25"]
# Patient responsibility by kind, from the PR group's CARC: 1 deductible, 2 coinsurance, 3 copay.
PatientShareKind = Literal["deductible", "coinsurance", "copay", "other"]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Adjustment(_Part):
    line_number: int | None = None
    group_code: GroupCode
    carc: str
    amount: Money


class PostedLine(_Part):
    line_number: int
    charge_amount: Money
    allowed_amount: Money
    paid_amount: Money
    patient_responsibility_amount: Money
    procedure_code: str | None = None
    modifiers: list[str] = []
    service_date: date | None = None
    units: Decimal | None = None


class PatientShare(_Part):
    """Part of the patient's responsibility: which kind, from which CARC, on which line."""

    line_number: int | None = None
    kind: PatientShareKind
    carc: str
    amount: Money


class Crossover(_Part):
    """CLP02 19/20/21: the payer forwarded the claim to the next payer (NM1*TT in the 835)."""

    payer_name: str | None = None
    payer_id: str | None = None


class ClaimOutcomeEvent(IntegrationEvent):
    """What every per-claim outcome of a remittance names: the claim, the remittance it came in,
    the patient, the payer and the patient control number (CLP01) the payer echoed. Keyed by the
    claim id, so a claim's outcomes stay in order."""

    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    remittance_id: UUID
    patient_id: str
    payer_id: str
    patient_control_number: str


class RemittanceReceived(IntegrationEvent):
    event_type: ClassVar[str] = "org.openrcm.remittance.remittance_received.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "remittance_id"

    remittance_id: UUID
    payer_id: str
    trace_number: str
    payment_amount: Money
    payment_date: date
    claim_count: int
    received_at: datetime


class ClaimPaymentPosted(ClaimOutcomeEvent):
    event_type: ClassVar[str] = "org.openrcm.remittance.claim_payment_posted.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "claim_id"

    outcome: ClaimOutcome
    charge_amount: Money
    allowed_amount: Money
    paid_amount: Money
    patient_responsibility_amount: Money
    adjustments: list[Adjustment]
    lines: list[PostedLine]
    # Added in the 835 posting (issue 4); absent on manual JSON postings made before it.
    claim_status_code: ClaimStatusCode | None = None
    payer_claim_control_number: str | None = None
    patient_shares: list[PatientShare] = []
    crossover: Crossover | None = None
    interest_amount: Money | None = None


class DeniedItem(_Part):
    line_number: int | None = None  # None: the whole claim was denied
    group_code: GroupCode
    carc: str
    rarcs: list[str] = []
    amount: Money


class ClaimDenied(ClaimOutcomeEvent):
    event_type: ClassVar[str] = "org.openrcm.remittance.claim_denied.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "claim_id"

    denied_amount: Money
    denials: list[DeniedItem]
    claim_status_code: ClaimStatusCode | None = None
    payer_claim_control_number: str | None = None


class ClaimReversed(ClaimOutcomeEvent):
    """CLP02 22: the payer took back an earlier payment decision on this claim (amounts are those
    of the original decision, as positive numbers). A corrected decision usually follows in the same
    ERA as a ClaimPaymentPosted."""

    event_type: ClassVar[str] = "org.openrcm.remittance.claim_reversed.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "claim_id"

    payer_claim_control_number: str | None = None
    reversed_paid_amount: Money
    reversed_patient_responsibility_amount: Money
    reversed_adjustments: list[Adjustment]
    reversed_patient_shares: list[PatientShare] = []


class PaymentVarianceDetected(IntegrationEvent):
    """A posted line's allowed amount differs from the payer's contracted (fee schedule) amount."""

    event_type: ClassVar[str] = "org.openrcm.remittance.payment_variance_detected.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    remittance_id: UUID
    payer_id: str
    line_number: int
    procedure_code: str
    modifiers: list[str] = []
    service_date: date
    contracted_amount: Money
    allowed_amount: Money
    variance_amount: Money  # contracted - allowed: positive is an underpayment
    paid_amount: Money


class ProviderAdjustment(_Part):
    """One PLB adjustment: reason (PLB03-1, e.g. WO, FB, L6, 72, CS), reference and amount. A
    positive amount reduces the payment (money the payer keeps); a negative one adds to it (interest)."""

    reason_code: str
    reference: str | None = None
    amount: Money


class ProviderAdjustmentsPosted(IntegrationEvent):
    """The PLB segments of an ERA, posted to the provider's account (not to any claim)."""

    event_type: ClassVar[str] = "org.openrcm.remittance.provider_adjustments_posted.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "remittance_id"

    remittance_id: UUID
    payer_id: str
    provider_identifier: str
    fiscal_period_date: date
    adjustments: list[ProviderAdjustment]
    total_amount: Money


class RemittanceHeld(IntegrationEvent):
    """An 835 transaction that cannot be posted as it stands (it does not balance, or a claim in it
    is not matched): nothing of it was posted; it waits for review."""

    event_type: ClassVar[str] = "org.openrcm.remittance.remittance_held.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "remittance_id"

    remittance_id: UUID
    payer_id: str
    trace_number: str
    payment_amount: Money
    reasons: list[str]


class DepositRecorded(IntegrationEvent):
    """A payer's EFT as it reached the bank (a CCD+ credit whose addenda carry the ERA's TRN), recorded
    and, when its ERA is already here and fits, reassociated at once (remittance_id set)."""

    event_type: ClassVar[str] = "org.openrcm.remittance.deposit_recorded.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "deposit_id"

    deposit_id: UUID
    trace_number: str  # the ERA's TRN02
    amount: Money
    deposit_date: date
    payer_id: str | None = None
    status: Literal["matched", "unmatched"]
    remittance_id: UUID | None = None
    recorded_at: datetime


class RemittanceReassociated(IntegrationEvent):
    """An ERA and the deposit that paid it are tied together (CAQH CORE 370 reassociation): same trace
    number (TRN02), same amount (BPR02), payment date (BPR16) within tolerance of the deposit date."""

    event_type: ClassVar[str] = "org.openrcm.remittance.remittance_reassociated.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "remittance_id"

    remittance_id: UUID
    deposit_id: UUID
    payer_id: str
    trace_number: str
    amount: Money
    payment_date: date  # BPR16
    deposit_date: date
    reassociated_at: datetime


# A schedule of at most this many rows travels in FeeScheduleReplaced itself; a larger one in
# FeeScheduleRatesPublished parts of at most this many rows each. A rate is at most ~140 bytes of
# JSON (a 5-character code, a 2-character modifier, 14 digits, two dates), so a part stays near
# 280 KB: well under Kafka's default max.message.bytes (1 MiB) and the outbox relay's limit.
MAX_RATES_IN_EVENT = 2000


class FeeScheduleRate(BaseModel):
    """One contracted rate: allowed amount per unit of a procedure (and modifier) over a span of dates."""

    procedure_code: str
    modifier: str | None = None
    allowed_amount: Annotated[Decimal, Field(ge=0)]  # per unit, up to 4 places (drug rates have more than 2)
    effective_from: date
    effective_to: date | None = None


class FeeScheduleReplaced(IntegrationEvent):
    """A payer's contracted rates were replaced by a new version (earlier versions are kept): the
    variances of postings from now on are measured against it."""

    event_type: ClassVar[str] = "org.openrcm.remittance.fee_schedule_replaced.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "payer_id"

    payer_id: str
    version: int
    row_count: int
    content_sha256: str
    variance_tolerance: Money
    # The rates themselves, for consumers that price services ahead of time (eligibility's patient
    # estimates); None when the schedule has more than MAX_RATES_IN_EVENT rows (the event would
    # pass Kafka's message size): they follow in `rate_parts` FeeScheduleRatesPublished events.
    rates: list[FeeScheduleRate] | None = None
    rate_parts: int = 0


class FeeScheduleRatesPublished(IntegrationEvent):
    """One part of the rates of a fee schedule version too large for FeeScheduleReplaced: parts
    `part` of `part_count` (from 1), in order, keyed by payer like FeeScheduleReplaced (so they
    follow it on one partition). Part i holds rows first_row_index .. first_row_index + len(rates)
    - 1 of the version's `row_count`; a consumer applies the version once it holds every part."""

    event_type: ClassVar[str] = "org.openrcm.remittance.fee_schedule_rates_published.v1"
    topic: ClassVar[str] = topics.REMITTANCE
    key_field: ClassVar[str] = "payer_id"

    payer_id: str
    version: int
    part: Annotated[int, Field(ge=1)]
    part_count: Annotated[int, Field(ge=1)]
    row_count: int
    first_row_index: Annotated[int, Field(ge=0)]
    rates: list[FeeScheduleRate]
