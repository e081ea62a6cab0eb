"""Base for integration events: the data part of a CloudEvent.

Every contract declares its versioned CloudEvents type, the topic it travels on and which
field is the Kafka key (the aggregate id). Contracts carry ids, codes, statuses and amounts,
never demographics or clinical text (minimum necessary, HIPAA 45 CFR 164.502(b)).
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class IntegrationEvent(BaseModel):
    """An event published by one context and consumed by others.

    Additive changes (a new optional field) keep the type; anything else is a new `.v2`
    class published beside the `.v1` (see tests/contracts).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    topic: ClassVar[str]
    key_field: ClassVar[str]

    tenant_id: str

    def key(self) -> str:
        value = getattr(self, self.key_field)
        return str(value) if not isinstance(value, UUID) else str(value)
