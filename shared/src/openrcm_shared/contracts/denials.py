"""Events produced by the denials context. Key: the claim id."""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import UUID

from openrcm_shared.contracts import topics
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.money import Money


class DenialCaseOpened(IntegrationEvent):
    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_opened.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    payer_id: str
    denied_amount: Money
    primary_carc: str
    appeal_deadline: date


class DenialCaseClosed(IntegrationEvent):
    """A case left the worklist without an appeal: the payer reversed the decision it was about."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_closed.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    reason: str
