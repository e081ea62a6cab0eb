"""Claims out: 837P files built from ready claims, stored, valid, with never-reused control numbers."""

from __future__ import annotations

import re

import pytest

from tests.support import encounter, eventually
from tests.x12_validation import pyx12_errors

pytestmark = pytest.mark.stack


async def sent_x12(api, claim_id: str) -> str:
    async def available():
        response = await api["claims"].get(f"/v1/claims/{claim_id}/x12")
        assert response.status_code == 200, response.text
        return response
    response = await eventually(available)
    assert response.headers["content-type"] == "application/edi-x12"
    return response.text


async def test_a_clean_claim_goes_out_in_a_valid_837p(api):
    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    assert claim["status"] == "ready"
    x12 = await sent_x12(api, claim["id"])
    assert pyx12_errors(x12) == []
    assert f"CLM*{claim['patient_control_number']}*140.5***11:B:1" in x12
    assert f"REF*6R*{claim['patient_control_number']}001~" in x12
    body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
    assert body["status"] in ("submitted", "accepted_by_clearinghouse", "accepted_by_payer")
    submitted = next(h for h in body["history"] if h["kind"] == "submitted")
    assert (submitted["from_status"], submitted["event_id"] is not None) == ("ready", True)


async def test_control_numbers_are_never_reused(api):
    claims = [(await api["claims"].post("/v1/encounters", json=encounter())).json() for _ in range(3)]
    interchanges = set()
    for claim in claims:
        x12 = await sent_x12(api, claim["id"])
        interchanges.add(re.search(r"ISA\*(?:[^*]*\*){12}(\d{9})\*", x12).group(1))
    files = {await sent_x12(api, c["id"]) for c in claims}
    assert len(interchanges) == len(files)  # one ISA13 per file, never repeated


async def test_a_claim_the_837_cannot_carry_is_held_with_the_reason(api):
    body = encounter()
    del body["billing_provider"]["address"]  # 2010AA N3/N4 are required
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()

    async def held():
        current = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        assert current["status"] == "held", current["status"]
        return current
    current = await eventually(held)
    assert current["history"][-1]["kind"] == "scrubbed"
    listed = (await api["claims"].get("/v1/claims", params={"status": "held"})).json()["items"]
    assert [c["id"] for c in listed] == [claim["id"]]
    assert (await api["claims"].get(f"/v1/claims/{claim['id']}/x12")).status_code == 404
