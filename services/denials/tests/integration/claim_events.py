"""Claims and remittance events as the denials consumer gets them, and their delivery to its
handlers, for the integration tests."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from openrcm_shared.contracts.claims import ClaimSubmitted, SubmittedClaimLine
from openrcm_shared.contracts.remittance import ClaimPaymentPosted
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.messaging.envelope import Envelope
from openrcm_shared.security.context import acting_for

PAYER = "60054"
SERVED = datetime.now(timezone.utc).date() - timedelta(days=6)


async def handle(engine, handler, event, *, at: datetime | None = None) -> None:
    """One delivery of `event` to `handler` in a transaction of its own, as the consumer makes it (a
    redelivery is another call: a new envelope, as a replay past the inbox); `at`: the event's time."""
    envelope = Envelope.new(type=event.event_type, source=f"/openrcm/{event.topic.split('.')[1]}",
                            subject=str(event.claim_id), tenant_id=event.tenant_id)
    if at is not None:
        envelope = dataclasses.replace(envelope, time=at)
    with acting_for(event.tenant_id):
        async with engine.begin() as conn:
            await handler(HandlerContext(conn=conn, envelope=envelope, source="/openrcm/denials",
                                         aggregate_type="denial_case"), event)


def submitted(tenant: str, claim_id: uuid.UUID) -> ClaimSubmitted:
    return ClaimSubmitted(
        tenant_id=tenant, claim_id=claim_id, encounter_id="ENC-1", patient_id="PAT-7", payer_id=PAYER,
        patient_control_number="PCN7", total_charge=Decimal("240.75"), service_date_from=SERVED,
        service_date_to=SERVED, submitted_at=datetime.now(timezone.utc), patient_name="Testy Synthetic",
        member_id="M123", payer_name="Synthetic Health Plan", billing_provider_npi="1234567893",
        rendering_provider_npi="1245319599",
        lines=[SubmittedClaimLine(line_number=1, procedure_code="99213", units=1, charge_amount=Decimal("240.75"),
                                  service_date=SERVED)])


def posted(tenant: str, claim_id: uuid.UUID, remittance_id: uuid.UUID, outcome: str, paid: str) -> ClaimPaymentPosted:
    return ClaimPaymentPosted(
        tenant_id=tenant, claim_id=claim_id, remittance_id=remittance_id, patient_id="PAT-7", payer_id=PAYER,
        patient_control_number="PCN7", outcome=outcome, charge_amount=Decimal("240.75"),
        allowed_amount=Decimal(paid), paid_amount=Decimal(paid), patient_responsibility_amount=Decimal("0.00"),
        adjustments=[], lines=[])
