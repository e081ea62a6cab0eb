"""Events produced by the collections context. Key: the patient id."""

from __future__ import annotations

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
