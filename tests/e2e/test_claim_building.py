"""Claim building on the real stack: institutional encounters become 837I files apart from the
837P ones, encounters beyond the 837P's 50 lines are split into claims, and a file pyx12 rejects
comes back as a 999 whose errors land on the claim's timeline. Synthetic data only."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.support import claim_in, encounter, eventually
from tests.x12_validation import pyx12_errors

pytestmark = pytest.mark.stack

SERVED = (date.today() - timedelta(days=5)).isoformat()


def institutional_encounter() -> dict:
    body = encounter()
    body.update(
        setting="institutional", attending_provider=body.pop("rendering_provider"),
        institutional={"type_of_bill": "0131", "patient_status": "01"}, diagnosis_codes=["R07.9", "E11.9", "I10"],
        lines=[{"revenue_code": "0450", "procedure_code": "99284", "modifiers": ["25"], "charge_amount": "850.00",
                "service_date": SERVED},
               {"revenue_code": "0300", "procedure_code": "85025", "charge_amount": "42.75", "service_date": SERVED}])
    body["attending_provider"].update(taxonomy_code="207P00000X")
    body.pop("place_of_service")
    return body


async def sent_x12(api, claim_id: str) -> str:
    async def available():
        response = await api["claims"].get(f"/v1/claims/{claim_id}/x12")
        assert response.status_code == 200, response.text
        return response.text
    return await eventually(available)


def groups(x12: str) -> list[str]:
    return re.findall(r"~GS\*HC\*(?:[^*~]*\*){6}([^~]*)~", x12)


async def test_an_institutional_encounter_goes_out_in_its_own_837i_and_is_accepted(api):
    created = await api["claims"].post("/v1/encounters", json=institutional_encounter())
    assert created.status_code == 201, created.text
    institutional = created.json()
    assert (institutional["claim_type"], institutional["status"], institutional["total_charge"]) == (
        "institutional", "ready", "892.75")
    assert [line["revenue_code"] for line in institutional["lines"]] == ["0450", "0300"]
    professional = (await api["claims"].post("/v1/encounters", json=encounter())).json()

    accepted = await claim_in(api, institutional["id"], "accepted_by_payer")
    assert accepted["payer_claim_control_number"]
    x12 = await sent_x12(api, institutional["id"])
    assert pyx12_errors(x12) == []
    assert groups(x12) == ["005010X223A2"]  # 837I alone: the professional claim went in another file
    assert f"~CLM*{institutional['patient_control_number']}*892.75***13:A:1**A*Y*Y~" in x12
    assert "~SV2*0450*HC:99284:25*850*UN*1~" in x12 and "~CL1***01~" in x12
    assert "~NM1*71*1*Renderer*Rene****XX*1245319599~PRV*AT*PXC*207P00000X~" in x12
    assert groups(await sent_x12(api, professional["id"])) == ["005010X222A1"]


async def test_an_institutional_encounter_without_what_an_837i_needs_is_refused_or_held(api):
    body = institutional_encounter()
    del body["lines"][1]["revenue_code"]
    refused = await api["claims"].post("/v1/encounters", json=body)
    assert refused.status_code == 422
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/lines/1/revenue_code"]

    inpatient = institutional_encounter()
    inpatient["institutional"] = {"type_of_bill": "0111", "patient_status": "99"}
    held = (await api["claims"].post("/v1/encounters", json=inpatient)).json()
    assert held["status"] == "held"
    assert {(h["rule_id"], h["pointer"]) for h in held["scrub_hits"] if h["severity"] == "block"} == {
        ("INST.ADMISSION_REQUIRED", "/institutional/admission_date"),
        ("INST.ADMISSION_REQUIRED", "/institutional/admission_type"),
        ("INST.PATIENT_STATUS", "/institutional/patient_status")}


async def test_lines_beyond_the_837p_limit_are_split_into_further_claims_of_the_encounter(api):
    lines = [{"procedure_code": "99213", "charge_amount": f"{n}.00", "service_date": SERVED, "diagnosis_pointers": [1]}
             for n in range(1, 121)]
    created = await api["claims"].post("/v1/encounters", json=encounter(lines=lines))
    assert created.status_code == 201, created.text
    first = created.json()
    assert (len(first["lines"]), first["split_part"], first["total_charge"]) == (50, 1, "1275.00")  # 1 + ... + 50
    parts = sorted(first["related_claims"], key=lambda c: c["split_part"])
    assert [c["split_part"] for c in parts] == [2, 3]
    claims = [first] + [(await api["claims"].get(f"/v1/claims/{c['id']}")).json() for c in parts]
    assert [len(c["lines"]) for c in claims] == [50, 50, 20]
    assert [c["total_charge"] for c in claims] == ["1275.00", "3775.00", "2210.00"]  # 120 * 121 / 2 = 7260
    assert len({c["patient_control_number"] for c in claims}) == 3
    for claim in claims:
        x12 = await sent_x12(api, claim["id"])
        assert f"CLM*{claim['patient_control_number']}*{claim['total_charge'].rstrip('0').rstrip('.')}***" in x12
    assert pyx12_errors(await sent_x12(api, claims[1]["id"])) == []
    listed = (await api["claims"].get(f"/v1/claims/{parts[1]['id']}")).json()
    assert {c["split_part"] for c in listed["related_claims"]} == {1, 2}


async def test_a_file_pyx12_rejects_comes_back_as_a_999_tied_to_the_claim_with_segment_and_element(api):
    body = encounter()
    # QQ is two capital letters (our intake takes it) but no state code: pyx12's code list rejects
    # 2010BA N402, so the clearinghouse's front end rejects the transaction set in its 999.
    body["patient"]["address"]["state"] = "QQ"
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    assert claim["status"] == "ready"
    rejected = await claim_in(api, claim["id"], "rejected")
    rejection = next(h for h in rejected["history"] if h["kind"] == "rejected_999")
    assert rejection["event_id"] and rejection["to_status"] == "rejected"
    assert rejection["detail"]["reasons"] == [{"code": "IK3:8 IK4:7", "segment_id": "N4", "element_position": 2}]
    x12 = await sent_x12(api, claim["id"])
    assert [str(e) for e in pyx12_errors(x12)] and "~N4*Springfield*QQ*62701~" in x12

    body["patient"]["address"]["state"] = "IL"
    corrected = await api["claims"].put(f"/v1/claims/{claim['id']}/encounter", json=body)
    assert corrected.status_code == 200 and corrected.json()["version"] == 2
    await claim_in(api, claim["id"], "accepted_by_payer")
