"""Encounter -> scrub -> 837 -> clearinghouse 999 and 277CA -> claim state, on the real stack,
and a rejected claim corrected and resubmitted."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import claim_in, encounter

pytestmark = pytest.mark.stack


async def webhooks_taken(process) -> int:  # noqa: ANN001 - a RunningService
    """How many clearinghouse webhooks the process has answered 200, from its request histogram."""
    async with httpx.AsyncClient(base_url=process.url) as client:
        metrics = (await client.get("/metrics")).text
    pattern = r'openrcm_http_request_duration_seconds_count\{[^}]*route="/v1/webhooks/clearinghouse"[^}]*status="200"[^}]*\} (\S+)'
    return sum(int(float(count)) for count in re.findall(pattern, metrics))


async def test_clean_claim_is_acknowledged_and_accepted_by_the_payer(api, stack):
    worker = stack.services["claims-worker"]
    taken_before = await webhooks_taken(worker)
    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    assert claim["status"] == "ready"
    accepted = await claim_in(api, claim["id"], "accepted_by_payer")
    kinds = [h["kind"] for h in accepted["history"]]
    assert kinds == ["received", "scrubbed", "submitted", "acknowledged_999", "accepted_277ca"], kinds
    assert accepted["payer_claim_control_number"]
    # The 999 and the 277CA came to the claims worker (StackPorts.webhook_url), not the API process.
    assert await webhooks_taken(worker) >= taken_before + 2


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


async def test_replace_and_void_a_claim_the_payer_has(api):
    held = encounter()
    del held["billing_provider"]["address"]
    held_claim = (await api["claims"].post("/v1/encounters", json=held)).json()
    not_with_payer = await api["claims"].post(f"/v1/claims/{held_claim['id']}/void")
    assert not_with_payer.status_code == 409 and not_with_payer.json()["type"].endswith("/claim-not-with-payer")

    body = encounter()
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    accepted = await claim_in(api, claim["id"], "accepted_by_payer")
    pccn = accepted["payer_claim_control_number"]

    body["lines"][0]["charge_amount"] = "130.00"
    replaced = await api["claims"].post(f"/v1/claims/{claim['id']}/replace", json=body)
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["version"], replaced.json()["frequency_code"]) == (2, "7")
    await claim_in(api, claim["id"], "accepted_by_payer")
    x12 = (await api["claims"].get(f"/v1/claims/{claim['id']}/x12")).text
    assert f"CLM*{claim['patient_control_number']}*145.5***11:B:7" in x12 and f"REF*F8*{pccn}~" in x12

    voided = await api["claims"].post(f"/v1/claims/{claim['id']}/void")
    assert voided.status_code == 200 and voided.json()["frequency_code"] == "8"
    final = await claim_in(api, claim["id"], "voided")
    assert "void_accepted_277ca" in [h["kind"] for h in final["history"]]
    assert ":B:8" in (await api["claims"].get(f"/v1/claims/{claim['id']}/x12")).text


async def test_payers_that_take_only_new_claims_refuse_replacements(api):
    medicare = {"name": "Medicare Part B (synthetic)", "claim_types": ["professional"],
                "replacement_claims_accepted": False}
    assert (await api["claims"].put("/v1/payers/MCRB2", json=medicare)).status_code == 200
    body = encounter(payer_id="MCRB2")
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    await claim_in(api, claim["id"], "accepted_by_payer")
    refused = await api["claims"].post(f"/v1/claims/{claim['id']}/replace", json=body)
    assert refused.status_code == 422 and refused.json()["type"].endswith("/payer-refuses-replacements")
