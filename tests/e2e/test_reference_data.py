"""The claims service's reference data: the payer registry, provider enrollments, and the
patients, coverages, providers and facilities an encounter may name by id."""

from __future__ import annotations

import pytest

from tests.e2e.claims_parties import encounter_by_reference, register_patient, register_practice
from tests.support import BILLING_NPI, claim_in, encounter

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


async def test_patients_coverages_providers_and_facilities_are_registered_and_read_back(api):
    claims = api["claims"]
    patient = {"first_name": "Testy", "last_name": "Synthetic", "birth_date": "1979-04-12", "gender": "F"}
    assert (await claims.put("/v1/patients/PAT-R1", json=patient)).status_code == 200
    assert (await claims.get("/v1/patients/PAT-R1")).json()["last_name"] == "Synthetic"
    assert (await claims.get("/v1/patients/NOBODY")).status_code == 404

    coverage = {"payer_id": "60054", "member_id": "XJ1", "order_of_benefits": 1, "effective_from": "2026-01-01"}
    stored = await claims.put("/v1/patients/PAT-R1/coverages/C1", json=coverage)
    assert stored.status_code == 200 and stored.json()["order_of_benefits"] == 1
    clash = await claims.put("/v1/patients/PAT-R1/coverages/C2", json={**coverage, "member_id": "XJ2"})
    assert clash.status_code == 422 and clash.json()["errors"][0]["pointer"] == "/order_of_benefits"
    bad = await claims.put("/v1/patients/PAT-R1/coverages/C2", json={
        **coverage, "payer_id": "NOPE1", "order_of_benefits": 4, "relationship_to_subscriber": "19"})
    assert bad.status_code == 422 and {e["pointer"] for e in bad.json()["errors"]} == {"/order_of_benefits"}
    dependent = await claims.put("/v1/patients/PAT-R1/coverages/C2", json={
        **coverage, "order_of_benefits": 2, "relationship_to_subscriber": "19", "effective_to": "2025-12-31"})
    assert dependent.status_code == 422 and {e["pointer"] for e in dependent.json()["errors"]} == {
        "/effective_to", "/subscriber"}
    unknown_payer = await claims.put("/v1/patients/PAT-R1/coverages/C2", json={
        **coverage, "payer_id": "NOPE1", "order_of_benefits": 2})
    assert unknown_payer.status_code == 422 and unknown_payer.json()["errors"][0]["pointer"] == "/payer_id"
    assert (await claims.put("/v1/patients/NOBODY/coverages/C1", json=coverage)).status_code == 404
    assert [c["coverage_id"] for c in (await claims.get("/v1/patients/PAT-R1/coverages")).json()] == ["C1"]

    billing = {"name": "Synthetic Family Clinic", "tax_id": "123456789", "roles": ["billing"],
               "address": {"line1": "100 Main Street", "city": "Springfield", "state": "IL", "postal_code": "627011234"}}
    assert (await claims.put(f"/v1/providers/{BILLING_NPI}", json=billing)).status_code == 200
    wrong_check_digit = await claims.put("/v1/providers/1234567890", json=billing)
    assert wrong_check_digit.status_code == 422 and wrong_check_digit.json()["errors"][0]["pointer"] == "/path/npi"
    po_box = await claims.put(f"/v1/providers/{BILLING_NPI}", json={
        **billing, "tax_id": None, "address": {**billing["address"], "line1": "PO Box 4410"}})
    assert po_box.status_code == 422 and {e["pointer"] for e in po_box.json()["errors"]} == {"/tax_id", "/address/line1"}
    listed = (await claims.get("/v1/providers", params={"role": "billing"})).json()["items"]
    assert [p["npi"] for p in listed] == [BILLING_NPI]

    facility = {"name": "Synthetic Annex", "address": {"line1": "5 Side Street", "city": "Springfield", "state": "IL",
                                                      "postal_code": "62701"}}
    short_zip = await claims.put("/v1/facilities/annex-1", json=facility)
    assert short_zip.status_code == 422 and short_zip.json()["errors"][0]["pointer"] == "/address/postal_code"
    facility["address"]["postal_code"] = "627015555"
    assert (await claims.put("/v1/facilities/annex-1", json=facility)).status_code == 200
    assert (await claims.get("/v1/facilities/annex-1")).json()["name"] == "Synthetic Annex"


async def test_an_encounter_names_its_parties_by_id_and_bills_the_coverage_active_on_the_date_of_service(api):
    await register_practice(api["claims"])
    patient_id = await register_patient(api["claims"], "60054")
    # An older coverage with the same payer position, ended before the date of service: not billed.
    ended = await api["claims"].put(f"/v1/patients/{patient_id}/coverages/OLD", json={
        "payer_id": "60054", "member_id": "OLD0001", "order_of_benefits": 1, "effective_from": "2019-01-01",
        "effective_to": "2020-12-31"})
    assert ended.status_code == 200, ended.text
    member_id = (await api["claims"].get(f"/v1/patients/{patient_id}/coverages/C1")).json()["member_id"]
    facility = {"name": "Synthetic Annex", "address": {"line1": "5 Side Street", "city": "Springfield", "state": "IL",
                                                      "postal_code": "627015555"}}
    assert (await api["claims"].put("/v1/facilities/annex-1", json=facility)).status_code == 200
    body = {**encounter_by_reference(patient_id), "service_facility_id": "annex-1"}
    created = await api["claims"].post("/v1/encounters", json=body)
    assert created.status_code == 201, created.text
    claim = created.json()
    assert (claim["status"], claim["patient_id"], claim["payer_id"]) == ("ready", patient_id, "60054")
    await claim_in(api, claim["id"], "accepted_by_payer")
    x12 = (await api["claims"].get(f"/v1/claims/{claim['id']}/x12")).text
    assert f"*MI*{member_id}~" in x12 and "OLD0001" not in x12
    assert "~NM1*85*2*Synthetic Family Clinic*****XX*1234567893~" in x12
    assert "~NM1*77*2*Synthetic Annex~N3*5 Side Street~N4*Springfield*IL*627015555~" in x12


async def test_unregistered_references_are_refused_naming_each_field(api):
    body = {**encounter_by_reference("NOBODY"), "service_facility_id": "nowhere"}
    response = await api["claims"].post("/v1/encounters", json=body)
    assert response.status_code == 422
    assert {e["pointer"] for e in response.json()["errors"]} == {
        "/patient_id", "/billing_provider_npi", "/rendering_provider_npi", "/service_facility_id"}

    await register_practice(api["claims"])
    uncovered = await register_patient(api["claims"])  # no coverage registered
    wrong_role = {**encounter_by_reference(uncovered), "referring_provider_npi": BILLING_NPI}
    response = await api["claims"].post("/v1/encounters", json=wrong_role)
    assert response.status_code == 422
    assert {(e["pointer"], e["detail"]) for e in response.json()["errors"]} == {
        ("/referring_provider_npi", "the provider is not registered for the referring role"),
        ("/coverage", "required: no registered coverage of this patient is active on every date of service; "
                      "send the coverage or register one")}
