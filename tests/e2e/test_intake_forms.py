"""Batch intake (a result per encounter) and late charges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support import claim_in, encounter

pytestmark = pytest.mark.stack


async def test_a_batch_takes_the_good_encounters_and_names_the_bad_ones(api):
    good, duplicate_source = encounter(), encounter()
    bad = encounter()
    bad["lines"][0]["procedure_code"] = "9921"
    unknown_payer = encounter(payer_id="NOSUCH1")
    response = await api["claims"].post("/v1/encounter-batches", json={
        "encounters": [good, bad, duplicate_source, duplicate_source, unknown_payer]})
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["failed"]) == (2, 3)
    statuses = [(r["index"], r["status"]) for r in result["results"]]
    assert statuses == [(0, 201), (1, 422), (2, 201), (3, 409), (4, 422)]
    assert result["results"][1]["problem"]["errors"][0]["pointer"] == "/encounters/1/lines/0/procedure_code"
    assert result["results"][3]["problem"]["errors"][0]["pointer"] == "/encounters/3/encounter_id"
    assert result["results"][4]["problem"]["errors"][0]["pointer"] == "/encounters/4/coverage/payer_id"
    assert result["results"][0]["claim"]["encounter_id"] == good["encounter_id"]


async def test_late_charges_join_a_claim_until_it_goes_out(api):
    held = encounter()
    del held["billing_provider"]["address"]  # held: it cannot go out yet
    claim = (await api["claims"].post("/v1/encounters", json=held)).json()
    assert claim["status"] == "held"
    late = {"lines": [{"procedure_code": "81002", "charge_amount": "12.25",
                       "service_date": (date.today() - timedelta(days=5)).isoformat(), "diagnosis_pointers": [1]}]}
    added = await api["claims"].post(f"/v1/claims/{claim['id']}/charges", json=late)
    assert added.status_code == 200, added.text
    body = added.json()
    assert (body["version"], body["total_charge"], len(body["lines"])) == (2, "152.75", 3)

    sent = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    await claim_in(api, sent["id"], "accepted_by_payer")
    too_late = await api["claims"].post(f"/v1/claims/{sent['id']}/charges", json=late)
    assert too_late.status_code == 409


async def test_late_charges_beyond_the_837p_limit_become_a_further_claim_of_the_encounter(api):
    served = (date.today() - timedelta(days=5)).isoformat()
    held = encounter(lines=[{"procedure_code": "99213", "charge_amount": "10.00", "service_date": served,
                             "diagnosis_pointers": [1]} for _ in range(49)])
    del held["billing_provider"]["address"]  # held: it cannot go out yet
    claim = (await api["claims"].post("/v1/encounters", json=held)).json()
    assert (claim["status"], len(claim["lines"])) == ("held", 49)
    late = {"lines": [{"procedure_code": "81002", "charge_amount": "12.25", "service_date": served,
                       "diagnosis_pointers": [1]} for _ in range(3)]}
    bad = {"lines": [{**late["lines"][0], "diagnosis_pointers": [3]}]}
    refused = await api["claims"].post(f"/v1/claims/{claim['id']}/charges", json=bad)
    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "/lines/0/diagnosis_pointers/0"

    added = await api["claims"].post(f"/v1/claims/{claim['id']}/charges", json=late)
    assert added.status_code == 200, added.text
    body = added.json()
    assert (body["version"], len(body["lines"]), body["total_charge"]) == (2, 50, "502.25")
    [further] = body["related_claims"]
    assert further["split_part"] == 2
    spilled = (await api["claims"].get(f"/v1/claims/{further['id']}")).json()
    assert ([line["procedure_code"] for line in spilled["lines"]], spilled["total_charge"]) == (["81002"] * 2, "24.50")
