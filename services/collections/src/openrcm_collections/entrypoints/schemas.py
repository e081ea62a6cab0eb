"""Request and response bodies of the collections API (money as decimal strings)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from openrcm_shared.http.bounds import BusinessDate
from openrcm_shared.money import Money, PositiveMoney

Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
# A processor's token for a card or bank account (never the number itself).
ProcessorToken = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^tok_[A-Za-z0-9_]{1,100}$")]


class RequestBody(BaseModel):
    """Unknown fields are refused (a typo is a 422, not silently dropped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PaymentIn(RequestBody):
    amount: PositiveMoney
    method: Literal["card", "ach", "cash", "check"]
    reference: Reference | None = Field(default=None, description="Check number, receipt number...")
    processor_token: ProcessorToken | None = Field(
        default=None, description="card and ach: the payment processor's token for the card or bank account")
    allocate_to: list[UUID] | None = Field(default=None, max_length=100,
                                           description="Claims to pay, in this order; default: oldest balance first")


class AllocationOut(BaseModel):
    claim_id: UUID | None  # None: unapplied, a credit on the account
    amount: Money


class PaymentOut(BaseModel):
    id: UUID
    patient_id: str
    amount: Money
    method: str
    reference: str | None
    status: str
    returned_reason: str | None = None
    refunded_amount: Money
    allocations: list[AllocationOut]
    plan_id: UUID | None = None
    processor_capture_id: str | None = None  # the processor's id of the capture (card, ACH)
    received_at: datetime


class PaymentReturnIn(RequestBody):
    # e.g. R01 insufficient funds (Nacha return reason codes), or a chargeback reason.
    reason: Annotated[str, StringConstraints(min_length=1, max_length=80)]


class RefundIn(RequestBody):
    amount: PositiveMoney
    payment_id: UUID | None = Field(default=None, description="Refund to this payment's card or bank account; "
                                                              "without it a check is issued")


class RefundOut(BaseModel):
    id: UUID
    patient_id: str
    payment_id: UUID | None
    amount: Money
    method: str
    refunded_at: datetime


class CreditApplicationOut(BaseModel):
    patient_id: str
    applied: list[AllocationOut]


class GuarantorAddressIn(RequestBody):
    line1: Annotated[str, StringConstraints(min_length=1, max_length=55)]
    line2: Annotated[str, StringConstraints(max_length=55)] | None = None
    city: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    state: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    postal_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}([0-9]{4})?$")]


class GuarantorIn(RequestBody):
    """Who receives the statements and pays: the patient, or another person (a parent, a spouse)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    relationship: Literal["self", "parent", "spouse", "legal_guardian", "other"]
    address: GuarantorAddressIn


class AccountHoldIn(RequestBody):
    """Stop dunning and collection activity (statements still show the balance)."""

    reason: Literal["dispute", "bankruptcy", "deceased", "hardship"] | None


class ScheduleLineOut(BaseModel):
    number: int
    due_date: date
    amount: Money
    paid_amount: Money
    status: str


AdjustmentKind = Literal["small_balance", "charity", "bad_debt", "prompt_pay_discount", "administrative"]


class AdjustmentIn(RequestBody):
    kind: AdjustmentKind
    # The practice's own adjustment reason code (e.g. SBWO, FAP100, BD, PPD5, ADM).
    reason_code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,10}$")]
    amount: PositiveMoney = Field(description="What the patient will owe less")
    claim_id: UUID | None = None
    financial_assistance: bool = Field(default=False, description="charity: the patient qualified under the "
                                                                  "practice's financial assistance policy")
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class AdjustmentOut(BaseModel):
    id: UUID
    patient_id: str
    claim_id: UUID | None
    kind: str
    reason_code: str
    amount: Money
    financial_assistance: bool
    note: str | None
    status: str
    requested_by: str | None
    decided_by: str | None
    reverses_adjustment_id: UUID | None
    requested_at: datetime
    decided_at: datetime | None


Frequency = Literal["weekly", "biweekly", "monthly"]


class PaymentPlanIn(RequestBody):
    total: PositiveMoney
    installments: Annotated[int, Field(ge=1, le=120)] | None = None
    installment_amount: PositiveMoney | None = None
    frequency: Frequency
    first_due_date: date
    autopay_token: ProcessorToken | None = Field(default=None, description="Charge each installment when due")


class PaymentPlanChangeIn(RequestBody):
    """Renegotiate what is left of the plan into a new schedule."""

    installments: Annotated[int, Field(ge=1, le=120)] | None = None
    installment_amount: PositiveMoney | None = None
    frequency: Frequency | None = None
    first_due_date: date


class PaymentPlanOut(BaseModel):
    id: UUID
    patient_id: str
    total: Money
    remaining: Money
    frequency: str
    autopay: bool
    status: str
    grace_days: int
    created_at: datetime
    updated_at: datetime
    schedule: list[ScheduleLineOut]


class DueRunIn(RequestBody):
    as_of: date = Field(description="The day to run as (the scheduler runs today)")


class DueRunOut(BaseModel):
    as_of: date
    plans: list[PaymentPlanOut]


class StatementRunIn(RequestBody):
    as_of: BusinessDate = Field(description="The statement date: accounts whose cycle has come by then")


class StatementRunOut(BaseModel):
    id: UUID
    run_on: date
    statement_count: int
    placed_count: int
    created_at: datetime


class StatementLineOut(BaseModel):
    service_date: date | None
    provider: str
    procedure: str
    charge: Money
    insurance_paid: Money
    adjustments: Money
    patient_owes: Money
    reason: str


class StatementOut(BaseModel):
    id: UUID
    patient_id: str
    run_id: UUID | None
    statement_on: date
    due_on: date
    amount_due: Money
    dunning_stage: str
    lines: list[StatementLineOut]
    issued_at: datetime
