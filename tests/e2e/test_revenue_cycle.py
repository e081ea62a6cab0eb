"""The revenue cycle end to end, through all five services on the real broker and databases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support import encounter, eventually, post_when_known, remittance_for

pytestmark = pytest.mark.stack


async def test_encounter_to_paid_claim_denial_case_and_patient_balance(api):
    # 1. The EHR posts an encounter: a claim is created and submitted.
    patient_id = "PAT-E2E-1"
    created = await api["claims"].post("/v1/encounters", json=encounter(patient_id=patient_id))
    assert created.status_code == 201, created.text
    claim = created.json()
    assert claim["status"] == "ready"  # clean: it goes out with the next 837 batch
    assert claim["total_charge"] == "140.50"
    assert len(claim["patient_control_number"]) <= 20
    assert created.headers["location"] == f"/v1/claims/{claim['id']}"

    # 2. Eligibility: an answer taken by phone is recorded, and claims notes it on the patient's open claim.
    check = await api["eligibility"].post("/v1/eligibility-responses", json={
        "patient_id": patient_id, "payer_id": "60054", "member_id": "XJ1", "coverage_active": True,
        "copay_amount": "25.00", "deductible_amount": "1500.00", "deductible_remaining": "250.00",
        "coinsurance_percent": "20"})
    assert check.status_code == 201, check.text

    async def coverage_recorded():
        body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        assert body["coverage_status"] == "active", body
        return body
    await eventually(coverage_recorded)

    # 3. The payer's decision is posted.
    posted = await post_when_known(api["remittance"], "/v1/remittances", remittance_for(claim))
    assert posted.status_code == 201, posted.text
    [posted_claim] = posted.json()["claims"]
    assert {key: posted_claim[key] for key in (
        "claim_id", "patient_control_number", "outcome", "charge_amount", "allowed_amount", "paid_amount",
        "patient_responsibility_amount", "denied_amount")} == {
        "claim_id": claim["id"], "patient_control_number": claim["patient_control_number"],
        "outcome": "partially_paid", "charge_amount": "140.50", "allowed_amount": "100.00", "paid_amount": "80.00",
        "patient_responsibility_amount": "20.00", "denied_amount": "15.50"}

    # 4. claims moves the claim to partially paid, with the timeline showing each step.
    async def claim_partially_paid():
        body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        assert body["status"] == "partially_paid", body["status"]
        assert any(h["kind"] == "denial_recorded" for h in body["history"]), body["history"]
        return body
    final = await eventually(claim_partially_paid)
    assert final["paid_amount"] == "80.00"
    kinds = [h["kind"] for h in final["history"]]
    assert kinds[:2] == ["received", "scrubbed"], kinds
    assert {"submitted", "coverage_recorded", "status_changed"} <= set(kinds), kinds
    # The clearinghouse's 999/277CA and the payer's remittance race: either may move the claim first.
    change = next(h for h in final["history"] if h["kind"] == "status_changed" and h["to_status"] == "partially_paid")
    assert change["from_status"] in ("submitted", "accepted_by_clearinghouse", "accepted_by_payer"), change

    # 5. denials opened a case for the denied line.
    async def denial_case():
        items = (await api["denials"].get("/v1/denials")).json()["items"]
        assert len(items) == 1, items
        return items[0]
    case = await eventually(denial_case)
    assert case["claim_id"] == claim["id"]
    assert case["denied_amount"] == "15.50"
    assert (case["primary_group_code"], case["primary_carc"]) == ("CO", "97")
    assert case["denials"] == [{"line_number": 2, "group_code": "CO", "carc": "97", "rarcs": ["M15"],
                                "amount": "15.50"}]
    assert date.fromisoformat(case["appeal_deadline"]) == date.today() + timedelta(days=90)

    # 6. collections put the coinsurance on the patient's account.
    async def account():
        response = await api["collections"].get(f"/v1/accounts/{patient_id}")
        assert response.status_code == 200, response.text
        return response.json()
    balance = await eventually(account)
    assert balance["balance"] == "20.00"
    assert [(e["entry_kind"], e["responsibility_kind"], e["carc"], e["amount"], e["balance_after"])
            for e in balance["ledger"]] == [("patient_responsibility", "coinsurance", "2", "20.00", "20.00")]


async def test_denial_worklist_is_highest_dollar_first_and_paginates(api):
    claims = []
    for charge in ("300.00", "45.00", "120.00"):
        service_date = (date.today() - timedelta(days=3)).isoformat()
        body = encounter(lines=[{"procedure_code": "97110", "units": 2, "charge_amount": charge,
                                 "service_date": service_date, "diagnosis_pointers": [1]}])
        response = await api["claims"].post("/v1/encounters", json=body)
        assert response.status_code == 201, response.text
        claims.append(response.json())
    for claim in claims:
        denial = {
            "payer_id": "60054", "trace_number": f"CHK-{claim['patient_control_number']}", "payment_amount": "0.00",
            "payment_date": date.today().isoformat(),
            "claims": [{"patient_control_number": claim["patient_control_number"], "lines": [
                {"line_number": 1, "charge_amount": claim["total_charge"], "paid_amount": "0.00",
                 "adjustments": [{"group_code": "CO", "carc": "50", "amount": claim["total_charge"]}],
                 "rarcs": ["N115"]}]}]}
        posted = await post_when_known(api["remittance"], "/v1/remittances", denial)
        assert posted.status_code == 201, posted.text
        assert posted.json()["claims"][0]["outcome"] == "denied"

    async def three_cases():
        page = (await api["denials"].get("/v1/denials", params={"limit": 2})).json()
        assert len(page["items"]) == 2 and page["next_cursor"], page
        rest = (await api["denials"].get("/v1/denials", params={"limit": 2, "cursor": page["next_cursor"]})).json()
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None, rest
        return page["items"] + rest["items"]
    cases = await eventually(three_cases)
    assert [c["denied_amount"] for c in cases] == ["300.00", "120.00", "45.00"]

    async def all_denied():
        for claim in claims:
            body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
            assert body["status"] == "denied", body["status"]
        return True
    await eventually(all_denied)
