"""Expected denials on the whole stack: a claim already sent, then an eligibility answer that the coverage
is inactive on its date of service (claims announces ClaimDenialExpected) puts the claim on the denials
service's expected-denial worklist; a biller resolves it by hand (announced on the denials topic), or the
payer's 835 denying the claim closes it as denied and links the denial case; another practice's token
neither sees nor resolves it."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import httpx
import pytest

from conftest import auth_headers
from openrcm_devstack import events as ops_events
from tests.e2e.claims_parties import encounter_by_reference, register_patient, register_practice
from tests.e2e.test_eligibility import SENT, _answered_again, _checked, _claim
from tests.support import RENDERING_NPI, eventually, post_when_known

pytestmark = pytest.mark.stack

RESOLVED = "org.openrcm.denials.expected_denial_resolved.v1"


async def flagged_claim(api) -> tuple[dict, dict, dict]:
    """A claim sent to the payer, then found on inactive coverage by a late 271: (claim, the check's
    answer, its expected-denial item once denials has it)."""
    served = (date.today() - timedelta(days=5)).isoformat()
    await register_practice(api["claims"])
    patient_id = await register_patient(api["claims"], "60054")
    check = await _checked(api, patient_id, "C1", served)
    assert check["status"] == "active"
    claim = (await api["claims"].post("/v1/encounters", json=encounter_by_reference(patient_id))).json()
    claim["patient_id"] = patient_id

    async def sent():
        assert (await _claim(api, claim["id"]))["status"] in SENT
        return True
    await eventually(sent, timeout=60)
    inactive = await _answered_again(api, check["id"], "EB*1*IND*30*", "EB*6*IND*30*")

    async def listed():
        items = (await api["denials"].get("/v1/expected-denials", params={"claim_id": claim["id"]})).json()["items"]
        assert len(items) == 1, items
        return items[0]
    return claim, inactive, await eventually(listed, timeout=60)


async def resolutions(stack, claim_id: str) -> list[dict]:
    records = await ops_events.read_all(stack.kafka.bootstrap_servers, ["rcm.denials.events.v1"])
    return [json.loads(record.value) for record in records
            if ops_events.header(record.headers, "ce_type") == RESOLVED and claim_id.encode() in record.value]


async def test_an_inactive_answer_on_a_sent_claim_is_worked_from_the_expected_denial_worklist(api, stack, tenant):
    denials = api["denials"]
    claim, inactive, item = await flagged_claim(api)
    assert (item["status"], item["reason"], item["payer_id"], item["eligibility_check_id"]) == (
        "open", "coverage_inactive", "60054", inactive["check_id"])
    assert (item["billed_amount"], item["patient_control_number"], item["rendering_provider_npi"]) == (
        "140.50", claim["patient_control_number"], RENDERING_NPI)
    assert item["service_date"] == (date.today() - timedelta(days=5)).isoformat() and item["age_days"] <= 1
    assert (await denials.get(f"/v1/expected-denials/{item['id']}")).json() == item
    assert item["patient_id"] == claim["patient_id"]

    assert [i["id"] for i in (await denials.get("/v1/expected-denials", params={"payer_id": "60054"})).json()[
        "items"]] == [item["id"]]
    assert (await denials.get("/v1/expected-denials", params={"payer_id": "87726"})).json()["items"] == []
    by_age = (await denials.get("/v1/expected-denials", params={"sort": "age", "limit": 1})).json()
    assert [i["id"] for i in by_age["items"]] == [item["id"]] and by_age["next_cursor"] is None

    for params, pointer in (({"sort": "random"}, "/query/sort"), ({"status": "archived"}, "/query/status"),
                            ({"limit": 0}, "/query/limit")):
        refused = await denials.get("/v1/expected-denials", params=params)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["errors"][0]["pointer"] == pointer, refused.json()
    resolve = f"/v1/expected-denials/{item['id']}/resolution"
    for body, pointer in (({"resolution": "denied", "note": "x"}, "/resolution"),
                          ({"resolution": "no_action", "note": "  "}, "/note"),
                          ({"resolution": "no_action"}, "/note")):
        refused = await denials.post(resolve, json=body)
        assert (refused.status_code, refused.json()["errors"][0]["pointer"]) == (422, pointer), refused.text
    assert (await denials.get(f"/v1/expected-denials/{uuid.uuid4()}")).status_code == 404

    # Another practice's token: not found, not listed, not resolvable.
    other = f"practice-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(base_url=str(denials.base_url), headers=auth_headers(stack, other),
                                 timeout=30) as stranger:
        assert (await stranger.get(f"/v1/expected-denials/{item['id']}")).status_code == 404
        assert (await stranger.get("/v1/expected-denials", params={"claim_id": claim["id"]})).json()["items"] == []
        refused = await stranger.post(resolve, json={"resolution": "no_action", "note": "not ours"})
        assert refused.status_code == 404, refused.text
    # A token of this practice without the worklist's scope.
    async with httpx.AsyncClient(base_url=str(denials.base_url), timeout=30,
                                 headers=auth_headers(stack, tenant, scopes=["claims:read"])) as reader:
        assert (await reader.get("/v1/expected-denials")).status_code == 403

    resolved = await denials.post(resolve, json={"resolution": "billed_patient",
                                                 "note": "Self-pay since the plan ended; patient billed."})
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["resolution"], resolved.json()["resolved_by"]) == (
        "resolved", "billed_patient", "test-user")
    again = await denials.post(resolve, json={"resolution": "no_action", "note": "twice"})
    assert (again.status_code, again.json()["type"].rsplit("/", 1)[1]) == (409, "expected-denial-resolved")
    assert (await denials.get("/v1/expected-denials", params={"claim_id": claim["id"]})).json()["items"] == []
    closed = (await denials.get("/v1/expected-denials", params={"status": "resolved", "claim_id": claim["id"]})).json()
    assert [i["resolution_note"] for i in closed["items"]] == ["Self-pay since the plan ended; patient billed."]

    async def announced():
        events = await resolutions(stack, claim["id"])
        assert [(e["expected_denial_id"], e["resolution"], e["resolved_by"]) for e in events] == [
            (item["id"], "billed_patient", "test-user")], events
        assert "Self-pay" not in json.dumps(events)  # the note stays in the denials service
        return events
    await eventually(announced, timeout=30)
    audit = (await denials.get("/v1/audit-events", params={"resource_id": item["id"]})).json()["items"]
    assert ("resolve", "expected_denial", "ok") in {(e["action"], e["resource_type"], e["outcome"]) for e in audit}


async def test_the_payers_denial_closes_the_expected_denial_and_links_the_case(api, stack):
    denials = api["denials"]
    claim, _, item = await flagged_claim(api)
    # The payer's 835: both lines denied CO-27 (expenses incurred after coverage terminated).
    remittance = {
        "payer_id": "60054", "trace_number": f"CHK{uuid.uuid4().hex[:10].upper()}", "payment_amount": "0.00",
        "payment_date": date.today().isoformat(),
        "claims": [{"patient_control_number": claim["patient_control_number"], "lines": [
            {"line_number": number, "charge_amount": charge, "paid_amount": "0.00",
             "adjustments": [{"group_code": "CO", "carc": "27", "amount": charge}]}
            for number, charge in ((1, "125.00"), (2, "15.50"))]}]}
    posted = await post_when_known(api["remittance"], "/v1/remittances", remittance)
    assert posted.status_code == 201, posted.text

    async def closed():
        body = (await denials.get(f"/v1/expected-denials/{item['id']}")).json()
        assert body["status"] == "resolved", body
        return body
    body = await eventually(closed, timeout=60)
    cases = (await denials.get("/v1/denials", params={"claim_id": claim["id"]})).json()["items"]
    [case] = cases
    assert (body["resolution"], body["denial_case_id"], body["resolved_by"]) == ("denied", case["id"], None)
    assert (case["denied_amount"], case["category"]) == ("140.50", "eligibility")
    # The flag is on the claim's timeline the case shows, before the denying 835.
    kinds = [entry["kind"] for entry in (await denials.get(f"/v1/denials/{case['id']}/timeline")).json()]
    assert kinds.index("denial_expected") < kinds.index("payment_posted"), kinds

    async def announced():
        events = await resolutions(stack, claim["id"])
        assert [(e["resolution"], e["denial_case_id"]) for e in events] == [("denied", case["id"])], events
        return events
    await eventually(announced, timeout=30)
