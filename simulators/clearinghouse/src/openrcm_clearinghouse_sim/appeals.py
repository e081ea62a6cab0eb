"""The simulated payer's appeals: an appeal names a claim it adjudicated (by its payer claim control
number, CLP07, or the patient control number, CLP01); after the adjudication delay the rule that
catches the claim decides it (`appeal`: overturn or uphold). An overturned denial is reprocessed in a
new 835: the denial taken back (CLP02 22) and the claim paid by the rule's fee schedule (TR3 section
1.10.2.8, the same shape as a reverse-and-correct). An upheld one gets no 835 (the payer writes).

In memory like the rest of the simulator; the appeal id is the idempotency key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pydantic import BaseModel, Field


class AppealIn(BaseModel):
    appeal_id: str = Field(min_length=1, max_length=64)
    payer_id: str = Field(min_length=1, max_length=80)
    patient_control_number: str = Field(min_length=1, max_length=38)
    payer_claim_control_number: str | None = Field(default=None, max_length=50)
    level: str = Field(min_length=1, max_length=20)
    category: str | None = Field(default=None, max_length=40)
    packet_pdf: str = Field(min_length=8, description="the appeal packet, base64")


@dataclass
class PayerAppeal:
    reference: str
    appeal_id: str
    payer_id: str
    patient_control_number: str
    payer_claim_control_number: str | None
    level: str
    category: str | None
    packet_bytes: int
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    decision: str | None = None  # overturned | upheld
    decided_at: datetime | None = None
    remittance_webhook_id: str | None = None

    @classmethod
    def received(cls, body: AppealIn, packet_bytes: int) -> PayerAppeal:
        return cls(reference=f"APL{uuid.uuid4().hex[:12].upper()}", appeal_id=body.appeal_id, payer_id=body.payer_id,
                   patient_control_number=body.patient_control_number,
                   payer_claim_control_number=body.payer_claim_control_number, level=body.level,
                   category=body.category, packet_bytes=packet_bytes)

    def view(self) -> dict:
        return {"appeal_reference": self.reference, "appeal_id": self.appeal_id, "payer_id": self.payer_id,
                "patient_control_number": self.patient_control_number,
                "payer_claim_control_number": self.payer_claim_control_number, "level": self.level,
                "category": self.category, "packet_bytes": self.packet_bytes,
                "received_at": self.received_at.isoformat(),
                "status": "decided" if self.decision else "received", "decision": self.decision,
                "decided_at": self.decided_at.isoformat() if self.decided_at else None,
                "remittance_webhook_id": self.remittance_webhook_id}
