"""The payer registry and provider enrollments of the claims service."""

from __future__ import annotations

import pytest

from tests.support import BILLING_NPI, encounter

pytestmark = pytest.mark.stack


async def test_claims_for_an_unregistered_payer_are_refused_naming_the_field(api):
    response = await api["claims"].post("/v1/encounters", json=encounter(payer_id="99999"))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"pointer": "/coverage/payer_id", "detail": "unknown payer"}]
    assert (await api["claims"].get("/v1/claims")).json()["items"] == []


async def test_payer_registry_upserts_and_lists(api):
    medicare = {"name": "Medicare Part B (synthetic)", "claim_types": ["professional"], "timely_filing_days": 365,
                "enrollment_required": True, "replacement_claims_accepted": False}
    first = await api["claims"].put("/v1/payers/MCRB1", json=medicare)
    assert first.status_code == 200 and first.json()["acknowledgement_follow_up_days"] == 7
    changed = await api["claims"].put("/v1/payers/MCRB1", json={**medicare, "timely_filing_days": 180})
    assert changed.json()["timely_filing_days"] == 180
    listed = (await api["claims"].get("/v1/payers")).json()
    assert [p["payer_id"] for p in listed] == ["60054", "MCRB1"]
    bad = await api["claims"].put("/v1/payers/MCRB1", json={**medicare, "claim_types": ["dental"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/claim_types/0"


async def test_enrollment_spans(api):
    span = {"npi": BILLING_NPI, "payer_id": "60054", "effective_from": "2026-01-01", "effective_to": "2026-12-31"}
    created = await api["claims"].post("/v1/enrollments", json=span)
    assert created.status_code == 201, created.text
    listed = (await api["claims"].get("/v1/enrollments", params={"npi": BILLING_NPI})).json()["items"]
    assert [e["id"] for e in listed] == [created.json()["id"]]

    unknown_payer = await api["claims"].post("/v1/enrollments", json={**span, "payer_id": "NOPE1"})
    assert unknown_payer.status_code == 422 and unknown_payer.json()["errors"][0]["pointer"] == "/payer_id"
    bad_npi = await api["claims"].post("/v1/enrollments", json={**span, "npi": "1234567890"})
    assert bad_npi.status_code == 422 and bad_npi.json()["errors"][0]["pointer"] == "/npi"
    backwards = await api["claims"].post("/v1/enrollments", json={**span, "effective_to": "2025-12-31"})
    assert backwards.status_code == 422
