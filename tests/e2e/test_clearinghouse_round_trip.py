"""Encounter -> scrub -> 837 -> clearinghouse 999 and 277CA -> claim state, on the real stack,
and a rejected claim corrected and resubmitted."""

from __future__ import annotations

import httpx
import pytest

from tests.support import encounter, eventually

pytestmark = pytest.mark.stack


async def claim_in(api, claim_id: str, status: str, timeout: float = 45):
    async def reached():
        body = (await api["claims"].get(f"/v1/claims/{claim_id}")).json()
        assert body["status"] == status, (body["status"], [h["kind"] for h in body["history"]])
        return body
    return await eventually(reached, timeout=timeout)


async def test_clean_claim_is_acknowledged_and_accepted_by_the_payer(api):
    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    assert claim["status"] == "ready"
    accepted = await claim_in(api, claim["id"], "accepted_by_payer")
    kinds = [h["kind"] for h in accepted["history"]]
    assert kinds == ["received", "scrubbed", "submitted", "acknowledged_999", "accepted_277ca"], kinds
    assert accepted["payer_claim_control_number"]


async def test_a_claim_the_payer_rejects_is_corrected_and_resubmitted(api, stack):
    rule = {"payer_id": "60054", "member_id_pattern": "^REJ", "category": "A7", "status": "562", "entity": "85"}
    async with httpx.AsyncClient(base_url=stack.clearinghouse_url) as clearinghouse:
        assert (await clearinghouse.put("/v1/rules", json=[rule])).status_code in (200, 204)
    body = encounter()
    body["coverage"]["member_id"] = "REJ12345"
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    rejected = await claim_in(api, claim["id"], "rejected")
    rejection = next(h for h in rejected["history"] if h["kind"] == "rejected_277ca")
    assert rejection["detail"]["reasons"] == ["A7:562:85"]
    listed = (await api["claims"].get("/v1/claims", params={"status": "rejected"})).json()["items"]
    assert [c["id"] for c in listed] == [claim["id"]]

    body["coverage"]["member_id"] = "XJ7654321"
    corrected = await api["claims"].put(f"/v1/claims/{claim['id']}/encounter", json=body)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["version"] == 2 and corrected.json()["status"] == "ready"
    accepted = await claim_in(api, claim["id"], "accepted_by_payer")
    assert accepted["version"] == 2
    assert [h["kind"] for h in accepted["history"]][-4:] == ["corrected", "scrubbed", "submitted",
                                                              "acknowledged_999"] or \
        [h["kind"] for h in accepted["history"]][-5:] == ["corrected", "scrubbed", "submitted", "acknowledged_999",
                                                         "accepted_277ca"]
    x12 = (await api["claims"].get(f"/v1/claims/{claim['id']}/x12")).text
    assert "XJ7654321" in x12 and "REJ12345" not in x12  # the last file the claim went out in
