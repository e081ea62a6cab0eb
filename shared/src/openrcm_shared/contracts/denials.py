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


class DenialCaseStatusChanged(IntegrationEvent):
    """A case moved on the worklist (openrcm_denials.domain.case_status lists the moves)."""

    event_type: ClassVar[str] = "org.openrcm.denials.denial_case_status_changed.v1"
    topic: ClassVar[str] = topics.DENIALS
    key_field: ClassVar[str] = "claim_id"

    case_id: UUID
    claim_id: UUID
    from_status: str
    to_status: str
    # The token subject of the person who moved it; None when the system did (an 835 settled it).
    changed_by: str | None = None
    reason: str | None = None
    # What the payer paid toward the denied amount since the case opened, when the move settles it.
    amount_recovered: Money | None = None
