"""Events produced by the collections context. Key: the patient id (a claim's follow-up: the claim id)."""

from __future__ import annotations

from datetime import datetime
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
