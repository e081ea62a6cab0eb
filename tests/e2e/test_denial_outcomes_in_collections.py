"""What the denials service decides reaches collections on the whole stack: a denial transferred to the
patient leaves the payer's receivable for the patient's account (and the statement says the plan denied
it); a denial written off (above the approval threshold, approved by a second person) leaves the A/R as
a denial write-off, not as bad debt."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from conftest import auth_headers
from openrcm_shared.documents.pdf import pdf_text
from tests.support import encounter, eventually, post_when_known

pytestmark = pytest.mark.stack


async def denied(api, *, patient_id: str, charge: str, carc: str) -> dict:
    """A claim billed and denied in full (CO-`carc`) by a posted remittance."""
    service_date = (date.today() - timedelta(days=4)).isoformat()
    body = encounter(patient_id=patient_id, lines=[{"procedure_code": "99213", "units": 1, "charge_amount": charge,
                                                    "service_date": service_date, "diagnosis_pointers": [1]}])
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    remittance = {
        "payer_id": "60054", "trace_number": f"CHK{uuid.uuid4().hex[:10].upper()}", "payment_amount": "0.00",
        "payment_date": date.today().isoformat(),
        "claims": [{"patient_control_number": claim["patient_control_number"], "lines": [
            {"line_number": 1, "charge_amount": charge, "paid_amount": "0.00",
             "adjustments": [{"group_code": "CO", "carc": carc, "amount": charge}]}]}]}
    posted = await post_when_known(api["remittance"], "/v1/remittances", remittance)
    assert posted.status_code == 201, posted.text
    return claim


async def case_of(api, claim_id: str) -> dict:
    async def opened():
        items = (await api["denials"].get("/v1/denials", params={"claim_id": claim_id})).json()["items"]
        assert len(items) == 1, items
        return items[0]
    return await eventually(opened, timeout=60)


async def receivable_with(api, claim_id: str, kind: str) -> dict:
    async def moved():
        body = (await api["collections"].get(f"/v1/receivables/{claim_id}")).json()
        assert kind in [m["movement_kind"] for m in body.get("movements", [])], body
        return body
    return await eventually(moved, timeout=60)


async def test_a_denial_transferred_to_the_patient_moves_from_the_payers_receivable_to_the_account(api, stack,
                                                                                                  tenant):
    patient_id = f"PAT-{uuid.uuid4().hex[:8]}"
    claim = await denied(api, patient_id=patient_id, charge="240.00", carc="96")  # CARC 96: non-covered charge
    case = await case_of(api, claim["id"])
    await receivable_with(api, claim["id"], "denial_held_open")  # denied, still the payer's to settle

    async def transferred():  # 409 until the claim's facts (its patient) reached the denials service
        response = await api["denials"].post(f"/v1/denials/{case['id']}/patient-transfers",
                                             json={"reason": "patient signed an advance notice"})
        assert response.status_code == 201, response.text
        return response.json()
    action = await eventually(transferred)
    assert (action["kind"], action["amount"]) == ("transfer_to_patient", "240.00")

    async def on_the_account():
        body = (await api["collections"].get(f"/v1/accounts/{patient_id}")).json()
        assert body.get("balance") == "240.00", body
        return body
    account = await eventually(on_the_account, timeout=60)
    assert [(e["entry_kind"], e["amount"], e["claim_id"]) for e in account["ledger"]] == [
        ("denial_transfer", "240.00", claim["id"])]
    receivable = await receivable_with(api, claim["id"], "denial_transferred")
    assert Decimal(receivable["balance"]) == Decimal("0")
    moved = [m for m in receivable["movements"] if m["movement_kind"] == "denial_transferred"]
    assert [(m["patient_transfer"], m["amount"]) for m in moved] == [("240.00", "-240.00")]

    run = await api["collections"].post("/v1/statement-runs", json={"as_of": date.today().isoformat()})
    assert run.status_code == 201, run.text
    [statement] = (await api["collections"].get(f"/v1/accounts/{patient_id}/statements")).json()["items"]
    [line] = statement["lines"]
    assert (line["charge"], line["insurance_paid"], line["patient_owes"]) == ("240.00", "0.00", "240.00")
    assert line["reason"].startswith("Your plan denied this service")
    text = pdf_text((await api["collections"].get(f"/v1/statements/{statement['id']}/pdf")).content)
    assert "Your plan denied this service" in text and "$240.00" in text


async def test_a_denial_written_off_with_a_second_persons_approval_leaves_the_ar_not_as_bad_debt(api, stack,
                                                                                                tenant):
    patient_id = f"PAT-{uuid.uuid4().hex[:8]}"
    claim = await denied(api, patient_id=patient_id, charge="812.00", carc="50")  # CARC 50: not medically necessary
    case = await case_of(api, claim["id"])
    await receivable_with(api, claim["id"], "denial_held_open")
    asked = (await api["denials"].post(f"/v1/denials/{case['id']}/write-offs", json={"reason": "not worth it"})).json()
    assert (asked["status"], asked["amount"]) == ("pending_approval", "812.00")  # above the 500.00 threshold
    held = (await api["collections"].get(f"/v1/receivables/{claim['id']}")).json()
    assert Decimal(held["balance"]) == Decimal("812.00")  # nothing moves before the approval

    async with httpx.AsyncClient(base_url=stack.services["denials"].url, timeout=30,
                                 headers=auth_headers(stack, tenant, subject="billing-manager")) as manager:
        approved = await manager.post(f"/v1/write-offs/{asked['id']}/approval")
    assert (approved.status_code, approved.json()["approved_by"]) == (200, "billing-manager"), approved.text

    receivable = await receivable_with(api, claim["id"], "denial_written_off")
    assert Decimal(receivable["balance"]) == Decimal("0")
    [written_off] = [m for m in receivable["movements"] if m["movement_kind"] == "denial_written_off"]
    assert (written_off["other_adjustment"], written_off["amount"]) == ("812.00", "-812.00")
    aging = (await api["collections"].get("/v1/reports/ar-aging", params={"as_of": date.today().isoformat()})).json()
    assert Decimal(aging["totals"]["insurance"]["total"]) == Decimal("0")  # this practice's only claim is off the A/R

    kpis = (await api["collections"].get("/v1/reports/kpis", params={
        "from": (date.today() - timedelta(days=1)).isoformat(), "to": date.today().isoformat()})).json()
    by_key = {kpi["key"]: kpi for kpi in kpis["kpis"]}
    assert Decimal(by_key["denial_write_off_rate"]["numerator"]) == Decimal("812.00")
    assert Decimal(by_key["bad_debt_rate"]["numerator"]) == Decimal("0")
    account = (await api["collections"].get(f"/v1/accounts/{patient_id}")).json()
    assert account.get("balance", "0.00") == "0.00"  # the patient owes nothing for a write-off
