"""Working denials over HTTP on the whole stack: claims denied by a posted remittance become categorized,
ranked cases; the worklist filters, sorts and exports; a case is picked up, noted, sent to clinical,
assigned; payer settings and overrides apply; bad input gets problems (404, 409, 422); the summary and
the trends answer."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta

import httpx
import pytest
from openpyxl import load_workbook

from conftest import auth_headers
from tests.support import BILLING_NPI, RENDERING_NPI, encounter, eventually, post_when_known

pytestmark = pytest.mark.stack


async def denied_claim(api, charge: str, carc: str, rarcs: list[str], procedure: str = "97110") -> dict:
    service_date = (date.today() - timedelta(days=3)).isoformat()
    body = encounter(lines=[{"procedure_code": procedure, "units": 1, "charge_amount": charge,
                             "service_date": service_date, "diagnosis_pointers": [1]}])
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    remittance = {
        "payer_id": "60054", "trace_number": f"CHK{uuid.uuid4().hex[:10].upper()}", "payment_amount": "0.00",
        "payment_date": date.today().isoformat(),
        "claims": [{"patient_control_number": claim["patient_control_number"], "lines": [
            {"line_number": 1, "charge_amount": claim["total_charge"], "paid_amount": "0.00",
             "adjustments": [{"group_code": "CO", "carc": carc, "amount": claim["total_charge"]}], "rarcs": rarcs}]}]}
    posted = await post_when_known(api["remittance"], "/v1/remittances", remittance)
    assert posted.status_code == 201, posted.text
    return claim


async def cases_for(api, count: int, **params) -> list[dict]:
    async def arrived():
        items = (await api["denials"].get("/v1/denials", params=params)).json()["items"]
        assert len(items) == count, items
        return items
    return await eventually(arrived)


async def test_working_a_denial_from_the_worklist(api, stack, tenant):
    denials = api["denials"]
    await denied_claim(api, "300.00", "50", ["N115"])  # medical necessity: 300 x 0.50
    await denied_claim(api, "200.00", "16", ["M127"])  # missing documentation: 200 x 0.80
    await denied_claim(api, "500.00", "18", [])  # duplicate: 500 x 0.10
    cases = await cases_for(api, 3)
    assert [(c["category"], c["priority"]) for c in cases] == [
        ("missing_information", "160.00"), ("medical_necessity", "150.00"), ("duplicate", "50.00")]
    top = cases[0]
    assert top["rule"] == "carc:16+rarc:M127" and top["recommended_action"] == "correct_and_resubmit"
    assert top["priority_parts"] == {"recoverable_amount": "200.00", "likelihood": "0.80",
                                     "likelihood_basis": "category", "outcomes_seen": 0, "days_left": 90,
                                     "urgency": "1.0000"}

    by_amount = (await denials.get("/v1/denials", params={"sort": "amount"})).json()["items"]
    assert [c["recoverable_amount"] for c in by_amount] == ["500.00", "300.00", "200.00"]
    coding = (await denials.get("/v1/denials", params={"category": ["medical_necessity", "duplicate"]})).json()
    assert sorted(c["category"] for c in coding["items"]) == ["duplicate", "medical_necessity"]
    for bad in ({"category": "typo"}, {"status": "archived"}, {"sort": "random"}):
        refused = await denials.get("/v1/denials", params=bad)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")

    detail = (await denials.get(f"/v1/denials/{top['id']}")).json()
    [line] = detail["lines"]
    assert line["carc"]["code"] == "16" and line["carc"]["description"].startswith("Claim/service lacks information")
    assert line["rarcs"] == [{"code": "M127", "description": "Missing patient medical record for this service."}]
    assert line["procedure_code"] == "97110" and line["why"].startswith("CARC 16 with RARC M127")
    assert detail["claim"]["charge_amount"] == "200.00" and detail["claim"]["paid_amount"] == "0.00"
    assert detail["notes"] == [] and detail["tasks"] == []
    # The claim's history from the claims and remittance events: sent, accepted, then the denying 835.
    kinds = [entry["kind"] for entry in detail["history"]]
    assert kinds[0] == "submitted_837" and detail["history"][0]["control_number"]

    # Picking it up, a note, a documentation request, answered.
    moved = await denials.post(f"/v1/denials/{top['id']}/status", json={"status": "in_progress"})
    assert moved.json() == {"id": top["id"], "from_status": "open", "status": "in_progress"}
    illegal = await denials.post(f"/v1/denials/{top['id']}/status", json={"status": "open"})
    assert illegal.status_code == 409 and illegal.json()["type"].endswith("/illegal-case-transition")
    not_manual = await denials.post(f"/v1/denials/{top['id']}/status", json={"status": "written_off"})
    assert not_manual.status_code == 422 and not_manual.json()["errors"][0]["pointer"] == "/status"
    note = await denials.post(f"/v1/denials/{top['id']}/notes", json={"body": "Called the payer: needs records."})
    assert note.status_code == 201 and note.json()["author"] == "test-user"
    task = await denials.post(f"/v1/denials/{top['id']}/tasks", json={
        "description": "Medical record for the visit", "due_date": (date.today() + timedelta(days=2)).isoformat()})
    assert task.status_code == 201
    assert (await denials.get(f"/v1/denials/{top['id']}")).json()["status"] == "waiting_on_clinical"
    closed = await denials.post(f"/v1/denials/{top['id']}/tasks/{task.json()['id']}/close", json={"status": "done"})
    assert closed.json()["status"] == "done" and closed.json()["closed_by"] == "test-user"
    assert (await denials.get(f"/v1/denials/{top['id']}")).json()["status"] == "in_progress"

    unknown = uuid.uuid4()
    for response in [await denials.get(f"/v1/denials/{unknown}"),
                     await denials.post(f"/v1/denials/{unknown}/status", json={"status": "in_progress"}),
                     await denials.post(f"/v1/denials/{unknown}/notes", json={"body": "x"})]:
        assert response.status_code == 404, response.text

    # Bulk assignment is all or nothing.
    ids = [c["id"] for c in cases]
    refused = await denials.post("/v1/denials/assignments", json={"case_ids": ids + [str(unknown)],
                                                                  "assignee": "coders", "assignee_kind": "team"})
    assert refused.status_code == 404
    assert (await denials.get("/v1/denials", params={"assignee": "coders"})).json()["items"] == []
    assigned = await denials.post("/v1/denials/assignments", json={
        "case_ids": ids[:2], "assignee": "coders", "assignee_kind": "team", "due_date": date.today().isoformat()})
    assert assigned.status_code == 200
    mine = (await denials.get("/v1/denials", params={"assignee": "coders"})).json()["items"]
    assert {c["id"] for c in mine} == set(ids[:2])

    # Exports of the worklist.
    csv_export = await denials.get("/v1/denials", params={"format": "csv"})
    assert csv_export.headers["content-type"].startswith("text/csv")
    header, *rows = csv_export.text.strip().splitlines()
    assert header.startswith("id,claim_id,payer_id,status,category") and len(rows) == 3
    xlsx = await denials.get("/v1/denials", params={"format": "xlsx", "sort": "amount"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [cell.value for cell in sheet[2]][9] == 500  # denied_amount as a number


async def test_payer_settings_and_overrides_change_open_cases(api, stack, tenant):
    denials = api["denials"]
    await denied_claim(api, "120.00", "16", [])
    [case] = await cases_for(api, 1)
    assert (await denials.get("/v1/payers/60054/denial-settings")).json()["configured"] is False
    put = await denials.put("/v1/payers/60054/denial-settings", json={
        "appeal_level1_days": 180, "appeal_level2_days": 60, "external_review_days": 120, "corrected_claim_days": 45})
    assert put.status_code == 200 and put.json()["updated_by"] == "test-user"
    bad = await denials.put("/v1/payers/60054/denial-settings", json={"appeal_level1_days": 0})
    assert bad.status_code == 422
    after = (await denials.get(f"/v1/denials/{case['id']}")).json()
    assert after["work_deadline"] == (date.fromisoformat(case["work_deadline"]) - timedelta(days=45)).isoformat()

    override = await denials.put("/v1/payers/60054/denial-category-overrides/16", json={"category": "authorization"})
    assert override.status_code == 200
    assert (await denials.get(f"/v1/denials/{case['id']}")).json()["rule"] == "override:60054/16"
    unknown_category = await denials.put("/v1/payers/60054/denial-category-overrides/16", json={"category": "nope"})
    assert unknown_category.status_code == 422
    assert [o["carc"] for o in (await denials.get("/v1/payers/60054/denial-category-overrides")).json()] == ["16"]
    assert (await denials.delete("/v1/payers/60054/denial-category-overrides/16")).status_code == 204
    assert (await denials.delete("/v1/payers/60054/denial-category-overrides/16")).status_code == 404

    reader = auth_headers(stack, tenant, scopes=["denials:work"])
    async with httpx.AsyncClient(base_url=str(denials.base_url), headers=reader, timeout=30) as worker_only:
        forbidden = await worker_only.put("/v1/payers/60054/denial-category-overrides/16", json={"category": "coding"})
        assert forbidden.status_code == 403


async def test_summary_and_trends(api):
    denials = api["denials"]
    await denied_claim(api, "80.00", "197", [], procedure="99213")
    [case] = await cases_for(api, 1)
    won = await denials.post(f"/v1/denials/{case['id']}/status", json={"status": "won", "amount_recovered": "80.00"})
    assert won.status_code == 200
    summary = (await denials.get("/v1/denials/summary")).json()
    [payer] = summary["by_payer"]
    assert (payer["key"], payer["denied_cases"], payer["denied_amount"], payer["adjudicated_claims"]) == (
        "60054", 1, "80.00", 1)
    assert payer["denial_rate"] == "1.0000"
    assert summary["overturns"] == {"won": 1, "partially_won": 0, "lost": 0, "overturn_rate": "1.0000",
                                    "amount_recovered": "80.00"}
    assert summary["average_days_to_resolve"] is not None
    assert [c["key"] for c in summary["by_category"]] == ["authorization"]
    exported = await denials.get("/v1/denials/summary", params={"format": "csv"})
    assert "payer,60054,1,80.00,1" in exported.text
    bad = await denials.get("/v1/denials/summary", params={"opened_from": "2026-02-01", "opened_to": "2026-01-01"})
    assert bad.status_code == 422
    trends = (await denials.get("/v1/denials/trends")).json()
    [trend] = trends["items"]
    assert (trend["payer_id"], trend["procedure_code"], trend["category"], trend["denials_7d"]) == (
        "60054", "99213", "authorization", 1)
    assert trend["spike"] is False and trend["ratio_7d"] is None  # no baseline yet

    # By provider: the denied claim's rendering NPI; a claim with no rendering provider is the billing NPI's.
    body = encounter(lines=[{"procedure_code": "99213", "units": 1, "charge_amount": "60.00",
                             "service_date": (date.today() - timedelta(days=3)).isoformat(), "diagnosis_pointers": [1]}])
    del body["rendering_provider"]
    paid = (await api["claims"].post("/v1/encounters", json=body)).json()
    posted = await post_when_known(api["remittance"], "/v1/remittances", {
        "payer_id": "60054", "trace_number": f"CHK{uuid.uuid4().hex[:10].upper()}", "payment_amount": "60.00",
        "payment_date": date.today().isoformat(),
        "claims": [{"patient_control_number": paid["patient_control_number"], "lines": [
            {"line_number": 1, "charge_amount": "60.00", "paid_amount": "60.00", "adjustments": []}]}]})
    assert posted.status_code == 201, posted.text

    async def by_provider():
        rows = (await denials.get("/v1/denials/summary")).json()["by_provider"]
        assert [(r["key"], r["denied_cases"], r["denied_amount"], r["adjudicated_claims"], r["charged_amount"],
                 r["denial_rate"]) for r in rows] == [
            (BILLING_NPI, 0, "0.00", 1, "60.00", "0.0000"), (RENDERING_NPI, 1, "80.00", 1, "80.00", "1.0000")], rows
        return rows
    await eventually(by_provider)
    exported = await denials.get("/v1/denials/summary", params={"format": "csv"})
    assert f"provider,{RENDERING_NPI},1,80.00,1" in exported.text
