"""Base for integration events: the data part of a CloudEvent.

Every contract declares its versioned CloudEvents type, the topic it travels on and which
field is the Kafka key (the aggregate id). Contracts carry ids, codes, statuses and amounts,
never demographics or clinical text (minimum necessary, HIPAA 45 CFR 164.502(b)).
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_json


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


class PreparedEvent:
    """An event whose JSON payload a bulk path built directly, standing in for its contract class
    in the outbox (it has the same `event_type`, `topic`, `tenant_id`, `key()` and
    `model_dump_json()`). Building and serialising pydantic models was most of the cost of posting a
    large ERA; the payload must still be exactly what the contract would produce, which the
    producer's tests check with `validated()`.
    """

    __slots__ = ("contract", "payload", "tenant_id")

    def __init__(self, contract: type[IntegrationEvent], payload: dict) -> None:
        self.contract = contract
        self.payload = payload
        self.tenant_id = payload["tenant_id"]

    @property
    def event_type(self) -> str:
        return self.contract.event_type

    @property
    def topic(self) -> str:
        return self.contract.topic

    def key(self) -> str:
        return str(self.payload[self.contract.key_field])

    def model_dump_json(self) -> str:
        # pydantic-core's serialiser: compact JSON, several times faster than json.dumps.
        return to_json(self.payload).decode()

    def validated(self) -> IntegrationEvent:
        """The contract object this payload stands for (raises if it does not fit the contract)."""
        return self.contract.model_validate(self.payload)
