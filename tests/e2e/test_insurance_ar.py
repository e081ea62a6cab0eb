"""Insurance A/R on the whole stack: a claim's receivable built from the claims and remittance
events, a call note asking the payer (276 out through the clearinghouse, 277 back, its status codes
on the claim and on the receivable), and the A/R reports in every format."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from tests.support import encounter, eventually

pytestmark = pytest.mark.stack

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def test_a_claims_receivable_a_status_inquiry_round_trip_and_the_reports(api):
    created = await api["claims"].post("/v1/encounters", json=encounter(patient_id="PAT-AR-1"))
    assert created.status_code == 201, created.text
    claim = created.json()

    async def billed():
        response = await api["collections"].get(f"/v1/receivables/{claim['id']}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert [m["movement_kind"] for m in body["movements"]][:1] == ["billed"], body
        return body
    receivable = await eventually(billed, timeout=60)
    assert receivable["movements"][0]["billed"] == claim["total_charge"]

    # Someone calls the payer, writes what was said and asks the payer electronically.
    noted = await api["collections"].post(f"/v1/follow-up/claims/{claim['id']}/notes", json={
        "note": "Payer rep: claim received, in process", "outcome": "in_process", "action": "ask_payer",
        "assignee": "biller-1", "next_action_on": date.today().isoformat()})
    assert noted.status_code == 201, noted.text
    assert (noted.json()["outcome"], noted.json()["action"]) == ("in_process", "ask_payer")

    async def answered():
        body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        entries = [h for h in body["history"] if h["kind"] == "status_inquiry_answered"]
        assert entries, [h["kind"] for h in body["history"]]
        return entries[0]["detail"]
    answer = await eventually(answered, timeout=60)
    # The simulated payer has the claim (accepted: P1:20 pending) or has paid it already (F1:65).
    assert (answer["category_code"], answer["status_code"]) in {("P1", "20"), ("F1", "65")}, answer

    async def on_the_receivable():
        body = (await api["collections"].get(f"/v1/receivables/{claim['id']}")).json()
        assert body["inquiry_category_code"] in ("P1", "F1"), body
        return body
    await eventually(on_the_receivable, timeout=30)
    notes = (await api["collections"].get(f"/v1/follow-up/claims/{claim['id']}/notes")).json()
    assert [n["note"] for n in notes] == ["Payer rep: claim received, in process"]

    # The aging as of today holds exactly this practice's receivables.
    today = datetime.now(timezone.utc).date().isoformat()
    receivable = (await api["collections"].get(f"/v1/receivables/{claim['id']}")).json()
    aging = await api["collections"].get("/v1/reports/ar-aging", params={"as_of": today, "group_by": "payer"})
    assert aging.status_code == 200, aging.text
    assert Decimal(aging.json()["totals"]["insurance"]["total"]) == Decimal(receivable["balance"])
    for export, media_type in (("csv", "text/csv"), ("xlsx", "application/vnd.openxmlformats"), ("png", "image/png")):
        response = await api["collections"].get("/v1/reports/ar-aging", params={"as_of": today, "format": export})
        assert response.status_code == 200 and response.headers["content-type"].startswith(media_type), export
    assert (await api["collections"].get("/v1/reports/ar-aging", params={"format": "png"})).content.startswith(
        PNG_SIGNATURE)
    # By patient: a page of patients, this one's insurance rows holding the claim's receivable.
    by_patient = await api["collections"].get("/v1/reports/ar-aging", params={
        "as_of": today, "group_by": "patient", "sort": "oldest_bucket", "limit": 1000})
    assert by_patient.status_code == 200, by_patient.text
    rows = by_patient.json()["rows"]
    assert sum((Decimal(r["total"]) for r in rows if (r["group"], r["receivable"]) == ("PAT-AR-1", "insurance")),
               Decimal(0)) == Decimal(receivable["balance"]), rows
    first = await api["collections"].get("/v1/reports/ar-aging", params={"as_of": today, "group_by": "patient",
                                                                         "limit": 1})
    assert first.status_code == 200 and len({r["group"] for r in first.json()["rows"]}) <= 1, first.text
    if first.json()["next_cursor"]:
        assert 'rel="next"' in first.headers["link"]
        after = await api["collections"].get("/v1/reports/ar-aging", params={
            "as_of": today, "group_by": "patient", "limit": 1, "cursor": first.json()["next_cursor"]})
        assert after.status_code == 200 and after.json()["rows"] != first.json()["rows"], after.text
    exported = await api["collections"].get("/v1/reports/ar-aging", params={"as_of": today, "group_by": "patient",
                                                                            "format": "csv"})
    assert exported.status_code == 200 and "PAT-AR-1" in exported.text

    kpis = await api["collections"].get("/v1/reports/kpis", params={"from": today, "to": today})
    assert kpis.status_code == 200, kpis.text
    assert {k["key"] for k in kpis.json()["kpis"]} == {
        "days_in_ar", "clean_claim_rate", "first_pass_resolution_rate", "denial_rate_count", "denial_rate_dollars",
        "net_collection_rate", "gross_collection_rate", "bad_debt_rate", "denial_write_off_rate"}
    assert all(k["definition"] for k in kpis.json()["kpis"])
    chart = await api["collections"].get("/v1/reports/kpis", params={"from": today, "to": today, "format": "png"})
    assert chart.content.startswith(PNG_SIGNATURE)


async def test_report_parameters_out_of_range_are_problems_naming_them(api):
    backwards = await api["collections"].get("/v1/reports/kpis", params={"from": "2026-03-01", "to": "2026-02-01"})
    assert backwards.status_code == 422
    assert backwards.headers["content-type"].startswith("application/problem+json")
    assert [e["pointer"] for e in backwards.json()["errors"]] == ["/query/to"]
    bad_basis = await api["collections"].get("/v1/reports/ar-aging", params={"basis": "posted"})
    assert bad_basis.status_code == 422 and "basis" in bad_basis.text
    bad_date = await api["collections"].get("/v1/reports/ar-aging", params={"as_of": "2026-02-30"})
    assert bad_date.status_code == 422 and "as_of" in bad_date.text
    bad_cursor = await api["collections"].get("/v1/reports/ar-aging", params={"group_by": "patient",
                                                                              "cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 400, bad_cursor.text
    assert [e["pointer"] for e in bad_cursor.json()["errors"]] == ["/query/cursor"]
    for name, value in (("limit", "0"), ("limit", "1001"), ("sort", "alphabetical")):
        refused = await api["collections"].get("/v1/reports/ar-aging", params={"group_by": "patient", name: value})
        assert refused.status_code == 422 and name in refused.text, (name, value)
    unknown = await api["collections"].post("/v1/follow-up/claims/00000000-0000-0000-0000-000000000000/notes",
                                            json={"note": "x"})
    assert unknown.status_code == 404
    bad_outcome = await api["collections"].post("/v1/follow-up/claims/00000000-0000-0000-0000-000000000000/notes",
                                                json={"note": "x", "outcome": "maybe"})
    assert bad_outcome.status_code == 422 and "outcome" in bad_outcome.text
