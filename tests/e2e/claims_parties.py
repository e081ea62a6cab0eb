"""Synthetic reference data for the claims end-to-end tests: a practice's providers, facility,
second and third payers, and a patient with coverages in order of benefits; and a way to put an
event on Kafka as another context would (for remittance outcomes the JSON posting API cannot
express: crossovers, "not our claim", reversals)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.messaging.kafka import reliable_producer
from openrcm_shared.messaging.outbox import build_envelope
from tests.support import BILLING_NPI, RENDERING_NPI

SECONDARY_PAYER = "SEC01"
TERTIARY_PAYER = "TER01"
ADDRESS = {"line1": "12 Example Lane", "city": "Springfield", "state": "IL", "postal_code": "62701"}
BILLING = {"name": "Synthetic Family Clinic", "tax_id": "123456789", "roles": ["billing"],
           "address": {"line1": "100 Main Street", "city": "Springfield", "state": "IL", "postal_code": "627011234"}}
RENDERING = {"first_name": "Rene", "last_name": "Renderer", "taxonomy_code": "207Q00000X",
             "roles": ["rendering", "attending", "supervising"]}


async def register_practice(claims, *payer_ids: str) -> None:
    """Billing and rendering providers, and further payers (60054 comes with the `api` fixture)."""
    for payer_id in payer_ids:
        response = await claims.put(f"/v1/payers/{payer_id}", json={
            "name": f"Synthetic Plan {payer_id}", "claim_types": ["professional", "institutional"]})
        assert response.status_code == 200, response.text
    for npi, body in ((BILLING_NPI, BILLING), (RENDERING_NPI, RENDERING)):
        response = await claims.put(f"/v1/providers/{npi}", json=body)
        assert response.status_code == 200, response.text


async def register_patient(claims, *payer_ids: str, patient_id: str | None = None) -> str:
    """A patient with one coverage per payer, in that order of benefits, active from last year on."""
    patient_id = patient_id or f"PAT-{uuid.uuid4().hex[:8]}"
    response = await claims.put(f"/v1/patients/{patient_id}", json={
        "first_name": "Testy", "last_name": "Synthetic", "birth_date": "1979-04-12", "gender": "F",
        "address": ADDRESS})
    assert response.status_code == 200, response.text
    since = (date.today() - timedelta(days=365)).isoformat()
    for order, payer_id in enumerate(payer_ids, start=1):
        response = await claims.put(f"/v1/patients/{patient_id}/coverages/C{order}", json={
            "payer_id": payer_id, "member_id": f"M{order}{uuid.uuid4().hex[:8].upper()}",
            "order_of_benefits": order, "effective_from": since})
        assert response.status_code == 200, response.text
    return patient_id


def encounter_by_reference(patient_id: str, *, lines: list[dict] | None = None) -> dict:
    served = (date.today() - timedelta(days=5)).isoformat()
    return {
        "encounter_id": f"ENC-{uuid.uuid4().hex[:10]}", "patient_id": patient_id,
        "billing_provider_npi": BILLING_NPI, "rendering_provider_npi": RENDERING_NPI,
        "diagnosis_codes": ["E11.9", "I10"],
        "lines": lines or [
            {"procedure_code": "99213", "modifiers": ["25"], "charge_amount": "125.00", "service_date": served,
             "diagnosis_pointers": [1, 2]},
            {"procedure_code": "36415", "charge_amount": "15.50", "service_date": served, "diagnosis_pointers": [1]},
        ],
    }


async def publish(stack, *events: IntegrationEvent, source: str = "/openrcm/remittance") -> None:
    """Put events on their topics the way the producing service's relay does (CloudEvents headers,
    keyed by the aggregate id)."""
    producer = reliable_producer(stack.kafka.bootstrap_servers, client_id="claims-e2e")
    await producer.start()
    try:
        for event in events:
            envelope = build_envelope(event, source=source)
            await producer.send_and_wait(event.topic, value=event.model_dump_json().encode(),
                                         key=event.key().encode(), headers=envelope.to_headers())
    finally:
        await producer.stop()
