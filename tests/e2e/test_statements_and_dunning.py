"""Statements and dunning on the real stack, from the events the claims and remittance services
publish: the first statement waits until the secondary payer has decided; its lines say in words
what was done, what the plans paid and why the patient owes; a PDF and the print-vendor batch file;
then an unpaid account moves one dunning stage per 28-day cycle to agency placement (an export
file); an open payment plan holds the stage, bankruptcy stops statements. Synthetic data only."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from openrcm_shared.contracts.claims import ClaimSubmitted, NextPayerClaimCreated, SubmittedClaimLine
from openrcm_shared.contracts.remittance import Adjustment, ClaimPaymentPosted, PostedLine
from openrcm_shared.documents.pdf import pdf_text
from tests.e2e.claims_parties import publish
from tests.e2e.test_patient_payments import account_owing, balance_of
from tests.support import eventually

pytestmark = pytest.mark.stack

SERVED = date(2026, 11, 2)
DAY = date(2026, 12, 1)


def submitted(tenant: str, patient_id: str, claim_id: uuid.UUID) -> ClaimSubmitted:
    return ClaimSubmitted(
        tenant_id=tenant, claim_id=claim_id, encounter_id="ENC-" + uuid.uuid4().hex[:8], patient_id=patient_id,
        payer_id="60054", patient_control_number="PCN" + uuid.uuid4().hex[:8], total_charge=Decimal("1660.00"),
        service_date_from=SERVED, service_date_to=SERVED, submitted_at=f"{SERVED}T12:00:00Z",
        claim_type="institutional", payer_responsibility="P", provider_name="Rene Renderer, MD",
        lines=[SubmittedClaimLine(line_number=1, procedure_code="99284", revenue_code="0450", units=1,
                                  charge_amount=Decimal("1200.00"), service_date=SERVED),
               SubmittedClaimLine(line_number=2, procedure_code="85025", revenue_code="0300", units=1,
                                  charge_amount=Decimal("460.00"), service_date=SERVED,
                                  description="Complete blood count")])


def decided(tenant: str, patient_id: str, claim_id: uuid.UUID, payer_id: str, paid: tuple[str, str],
            coinsurance: tuple[str, str]) -> ClaimPaymentPosted:
    charges = (Decimal("1200.00"), Decimal("460.00"))
    paid_by_line, owed = [Decimal(p) for p in paid], [Decimal(c) for c in coinsurance]
    adjustments, lines = [], []
    for number, (charge, line_paid, share) in enumerate(zip(charges, paid_by_line, owed), start=1):
        other = charge - line_paid - share
        adjustments += [Adjustment(line_number=number, group_code="CO" if payer_id == "60054" else "OA",
                                   carc="45" if payer_id == "60054" else "23", amount=other),
                        Adjustment(line_number=number, group_code="PR", carc="2", amount=share)]
        lines.append(PostedLine(line_number=number, charge_amount=charge, allowed_amount=line_paid + share,
                                paid_amount=line_paid, patient_responsibility_amount=share))
    return ClaimPaymentPosted(
        tenant_id=tenant, claim_id=claim_id, remittance_id=uuid.uuid4(), patient_id=patient_id, payer_id=payer_id,
        patient_control_number="PCN", outcome="paid", charge_amount=Decimal("1660.00"),
        allowed_amount=sum(paid_by_line) + sum(owed), paid_amount=sum(paid_by_line),
        patient_responsibility_amount=sum(owed), adjustments=adjustments, lines=lines)


async def run(api, as_of: date) -> dict:
    response = await api["collections"].post("/v1/statement-runs", json={"as_of": as_of.isoformat()})
    assert response.status_code == 201, response.text
    return response.json()


async def account(api, patient_id: str) -> dict:
    return (await api["collections"].get(f"/v1/accounts/{patient_id}")).json()


async def test_the_first_statement_waits_for_the_secondary_then_dunning_runs_to_placement(api, stack, tenant):
    patient_id, primary, secondary = f"PAT-{uuid.uuid4().hex[:8]}", uuid.uuid4(), uuid.uuid4()
    await publish(stack, submitted(tenant, patient_id, primary), NextPayerClaimCreated(
        tenant_id=tenant, claim_id=secondary, prior_claim_id=primary, encounter_id="ENC", payer_id="SEC01",
        payer_responsibility="S", prior_payer_id="60054", total_charge=Decimal("1660.00"),
        prior_paid_amount=Decimal("1062.40")), source="/openrcm/claims")
    await publish(stack, decided(tenant, patient_id, primary, "60054", ("768.00", "294.40"), ("192.00", "73.60")))

    async def waiting_for_the_secondary():
        body = await account(api, patient_id)
        assert (body.get("balance"), body.get("insurance_pending")) == ("265.60", [str(secondary)]), body
        return body
    await eventually(waiting_for_the_secondary)
    guarantor = {"name": "Pat Parent", "relationship": "parent",
                 "address": {"line1": "12 Example Lane", "city": "Springfield", "state": "IL", "postal_code": "62701"}}
    assert (await api["collections"].put(f"/v1/accounts/{patient_id}/guarantor", json=guarantor)).status_code == 200
    first_run = await run(api, DAY)
    assert (await api["collections"].get(f"/v1/accounts/{patient_id}/statements")).json()["items"] == []

    await publish(stack, decided(tenant, patient_id, secondary, "SEC01", ("132.00", "50.60"), ("60.00", "23.00")))

    async def decided_by_the_secondary():
        body = await account(api, patient_id)
        assert (body.get("balance"), body.get("insurance_pending")) == ("83.00", []), body
        return body
    await eventually(decided_by_the_secondary)
    statement_run = await run(api, DAY)
    assert statement_run["statement_count"] >= 1
    [statement] = (await api["collections"].get(f"/v1/accounts/{patient_id}/statements")).json()["items"]
    assert (statement["amount_due"], statement["dunning_stage"], statement["due_on"]) == (
        "83.00", "statement_1", (DAY + timedelta(days=21)).isoformat())
    assert [(l["procedure"], l["provider"], l["charge"], l["insurance_paid"], l["adjustments"], l["patient_owes"])
            for l in statement["lines"]] == [
        ("Complete blood count", "Rene Renderer, MD", "460.00", "345.00", "92.00", "23.00"),
        ("Emergency room (99284)", "Rene Renderer, MD", "1200.00", "900.00", "240.00", "60.00")]
    assert all(l["reason"].startswith("Your coinsurance") and l["service_date"] == SERVED.isoformat()
               for l in statement["lines"])
    pdf = await api["collections"].get(f"/v1/statements/{statement['id']}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "Pat Parent" in text and "$83.00" in text and "Emergency room (99284)" in text
    batch = (await api["collections"].get(f"/v1/statement-runs/{statement_run['id']}/batch-file")).text
    mine = [json.loads(line) for line in batch.splitlines() if json.loads(line)["account"] == patient_id]
    assert [(m["statement_id"], m["amount_due"], m["addressee"]) for m in mine] == [
        (statement["id"], "83.00", "Pat Parent")]
    assert first_run["statement_count"] == 0 or patient_id not in batch  # the first run had nothing of it

    assert (await run(api, DAY + timedelta(days=27)))["statement_count"] == 0  # the cycle has not come
    stages = []
    for cycle in range(1, 5):
        placed = await run(api, DAY + timedelta(days=28 * cycle))
        stages.append((await account(api, patient_id))["dunning_stage"])
    assert stages == ["statement_2", "final_notice", "pre_collection", "agency_placement"]
    assert placed["placed_count"] == 1
    agency = (await api["collections"].get(f"/v1/statement-runs/{placed['id']}/agency-file")).text
    assert f"{patient_id},Pat Parent,12 Example Lane,Springfield,IL,62701,83.00" in agency
    assert len((await api["collections"].get(f"/v1/accounts/{patient_id}/statements")).json()["items"]) == 4


async def test_a_plan_holds_the_stage_and_bankruptcy_stops_statements(api, stack, tenant):
    on_plan, _ = await account_owing(api, stack, tenant, "100.00")
    bankrupt, _ = await account_owing(api, stack, tenant, "50.00")
    await api["collections"].put(f"/v1/accounts/{bankrupt}/hold", json={"reason": "bankruptcy"})
    await run(api, DAY)
    plan = await api["collections"].post(f"/v1/accounts/{on_plan}/payment-plans", json={
        "total": "100.00", "installments": 2, "frequency": "monthly", "first_due_date": "2027-02-01"})
    assert plan.status_code == 201
    await run(api, DAY + timedelta(days=28))
    assert (await account(api, on_plan))["dunning_stage"] == "statement_1"
    assert (await api["collections"].get(f"/v1/accounts/{bankrupt}/statements")).json()["items"] == []
    assert await balance_of(api, bankrupt) == "50.00"
