"""Events produced by the collections context. Key: the patient id (a claim's follow-up: the claim id)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from openrcm_shared.contracts import topics
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.money import Money


class PatientBalanceChanged(IntegrationEvent):
    event_type: ClassVar[str] = "org.openrcm.collections.patient_balance_changed.v1"
    topic: ClassVar[str] = topics.COLLECTIONS
    key_field: ClassVar[str] = "patient_id"

    patient_id: str
    claim_id: UUID | None
    # payer_reversal: the payer took back its decision, and with it the patient share it had assigned.
    entry_kind: Literal["patient_responsibility", "payment", "adjustment", "payer_reversal"]
    amount: Money
    balance: Money
    # The exact movement (added with coordination of benefits and patient payments): e.g.
    # responsibility_replaced (a later payer's decision replaced an earlier one's patient share),
    # payment, refund, payment_returned, write_off... `entry_kind` stays the coarse kind.
    movement: str | None = None


class PayerCreditBalanceChanged(IntegrationEvent):
    """A payer's credit balance on one bill changed: what it paid beyond what the provider may collect
    (an overpayment to refund or offset; 0 when resolved). The bill is its primary claim."""

    event_type: ClassVar[str] = "org.openrcm.collections.payer_credit_balance_changed.v1"
    topic: ClassVar[str] = topics.COLLECTIONS
    key_field: ClassVar[str] = "patient_id"

    patient_id: str
    primary_claim_id: UUID
    payer_id: str
    credit_amount: Money
    previous_amount: Money


class PaymentPlanChanged(IntegrationEvent):
    """A patient's payment plan was created or changed: an installment paid or charged (autopay), a
    missed one making it delinquent, defaulted (the account is back in dunning), paid off,
    renegotiated or cancelled, or a payment that paid installments returned by the bank."""

    event_type: ClassVar[str] = "org.openrcm.collections.payment_plan_changed.v1"
    topic: ClassVar[str] = topics.COLLECTIONS
    key_field: ClassVar[str] = "patient_id"

    patient_id: str
    plan_id: UUID
    change: Literal["created", "installment_paid", "installment_declined", "delinquent", "defaulted", "paid_off",
                    "renegotiated", "cancelled", "active", "installment_returned"]
    status: Literal["active", "delinquent", "defaulted", "paid_off", "cancelled"]
    total: Money
    remaining: Money


class StatementIssued(IntegrationEvent):
    """A statement went to the patient (or guarantor): what it asks for, by when, at which dunning stage."""

    event_type: ClassVar[str] = "org.openrcm.collections.statement_issued.v1"
    topic: ClassVar[str] = topics.COLLECTIONS
    key_field: ClassVar[str] = "patient_id"

    patient_id: str
    statement_id: UUID
    run_id: UUID | None = None
    statement_on: date
    due_on: date
    amount_due: Money
    dunning_stage: str


class DunningStageChanged(IntegrationEvent):
    """An account moved along the dunning stages (statement_1, statement_2, final_notice,
    pre_collection, agency_placement), or was held (suppressed: plan, dispute, bankruptcy, deceased,
    hardship) or released."""

    event_type: ClassVar[str] = "org.openrcm.collections.dunning_stage_changed.v1"
    topic: ClassVar[str] = topics.COLLECTIONS
    key_field: ClassVar[str] = "patient_id"

    patient_id: str
    from_stage: str | None
    to_stage: str | None
    suppressed_by: str | None = None
    balance: Money


class ClaimFollowUpRequested(IntegrationEvent):
    """Someone working the insurance A/R asks the claims service to act on a claim: send it again
    as it is (`resubmit`), have it corrected and replaced (`correct`), or ask the payer for its
    status (`ask_payer`: an X12 276). `outcome` is what the payer last said, when known."""

    event_type: ClassVar[str] = "org.openrcm.collections.claim_follow_up_requested.v1"
    topic: ClassVar[str] = topics.COLLECTIONS
    key_field: ClassVar[str] = "claim_id"

    claim_id: UUID
    payer_id: str | None = None
    action: Literal["resubmit", "correct", "ask_payer"]
    outcome: Literal["pending_medical_review", "additional_documentation_requested", "paid_to_another_provider",
                     "in_process", "not_on_file", "denied"] | None = None
    requested_at: datetime
