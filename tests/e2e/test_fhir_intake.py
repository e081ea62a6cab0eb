"""FHIR R4 intake on the real stack: Claims (alone and in transaction and batch Bundles) taken,
sent in 837P and 837I files, refused with an OperationOutcome naming each problem by FHIRPath,
shown back as a FHIR Claim, and answered by a ClaimResponse that carries the payer's 835 once the
simulated payer has adjudicated. Synthetic data only (tests/fixtures/fhir)."""

from __future__ import annotations

import copy
import uuid

import httpx

import pytest

from conftest import auth_headers
from tests.e2e.test_adjudication_round_trip import payer_rules
from tests.fhir_examples import example as exact_example
from tests.support import BILLING_NPI, RENDERING_NPI, claim_in, eventually

pytestmark = pytest.mark.stack

NAIC = "urn:oid:2.16.840.1.113883.6.300"
PAYER = {"name": "Synthetic Health Plan", "claim_types": ["professional", "institutional"],
         "timely_filing_days": 365,
         "identifiers": [{"system": NAIC, "value": "98765"},
                         {"system": "https://clearinghouse.example.org/fhir/sid/payer-id", "value": "SHP01"}]}


def example(name: str) -> dict:
    return exact_example(name, exact=False)


@pytest.fixture
async def fhir(api):
    """The claims API of a practice whose payer 60054 is known by its NAIC code and clearinghouse id."""
    registered = await api["claims"].put("/v1/payers/60054", json=PAYER)
    assert registered.status_code == 200, registered.text
    return api["claims"]


def fresh(body: dict) -> dict:
    """The example with an encounter id and member ids of its own (the simulator's rules match members)."""
    body = copy.deepcopy(body)
    claims = [e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == "Claim"] \
        if body["resourceType"] == "Bundle" else [body]
    for claim in claims:
        claim["identifier"][0]["value"] = f"FHIR-{uuid.uuid4().hex[:12]}"
    return body


def with_member(body: dict, member: str) -> dict:
    coverage = next(r for r in body["contained"] if r["resourceType"] == "Coverage")
    coverage["subscriberId"] = member
    return body


def segments(x12: str) -> list[list[str]]:
    return [segment.split("*") for segment in x12.split("~") if segment.strip()]


async def sent_x12(fhir, claim_id: str) -> str:
    async def sent():
        response = await fhir.get(f"/v1/claims/{claim_id}/x12")
        assert response.status_code == 200, response.text
        return response.text
    return await eventually(sent, timeout=45)


async def test_a_claim_is_taken_sent_and_shown_back(fhir):
    body = fresh(example("professional-claim-contained"))
    response = await fhir.post("/fhir/Claim", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    claim_response = response.json()
    assert (claim_response["resourceType"], claim_response["outcome"]) == ("ClaimResponse", "queued")
    claim_id = claim_response["id"]
    assert response.headers["location"] == f"/fhir/Claim/{claim_id}"

    claim = (await fhir.get(f"/v1/claims/{claim_id}")).json()
    assert (claim["encounter_id"], claim["payer_id"], claim["total_charge"]) == (
        body["identifier"][0]["value"], "60054", "181.65")
    assert [line["units"] for line in claim["lines"]] == [1, 1, 1.5]
    # 1.5 units of J1100 go out as 1.5 (SV104), never truncated.
    sv1 = [s for s in segments(await sent_x12(fhir, claim_id)) if s[0] == "SV1"]
    assert [(s[1], s[2], s[4]) for s in sv1] == [("HC:99214:25", "150", "1"), ("HC:96372", "28.5", "1"),
                                                 ("HC:J1100", "3.15", "1.5")]

    shown = await fhir.get(f"/fhir/Claim/{claim_id}")
    assert shown.status_code == 200 and shown.headers["content-type"] == "application/fhir+json"
    resource = shown.json()
    assert resource["resourceType"] == "Claim" and resource["total"]["value"] == 181.65
    assert [i["quantity"]["value"] for i in resource["item"]] == [1, 1, 1.5]
    current = (await fhir.get(f"/fhir/ClaimResponse/{claim_id}")).json()
    assert current["request"] == {"reference": f"Claim/{claim_id}"} and current["outcome"] == "queued"


async def test_an_institutional_claim_in_a_transaction_bundle_goes_out_in_an_837i(fhir):
    body = fresh(example("institutional-outpatient-transaction"))
    response = await fhir.post("/fhir", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "transaction-response" and len(answer["entry"]) == len(body["entry"])
    claim_entry, *parties = answer["entry"]
    assert claim_entry["response"]["status"] == "201 Created"
    assert [p["response"]["status"] for p in parties] == ["200 OK"] * 5
    claim_id = claim_entry["resource"]["id"]
    assert claim_entry["response"]["location"] == f"Claim/{claim_id}"

    x12 = segments(await sent_x12(fhir, claim_id))
    [st] = [s for s in x12 if s[0] == "ST"]
    assert st[3] == "005010X223A2"  # an 837I
    [clm] = [s for s in x12 if s[0] == "CLM"]
    assert (clm[2], clm[5]) == ("1497.2", "13:A:1")  # type of bill 013x, frequency 1
    assert [(s[1], s[2], s[3], s[5]) for s in x12 if s[0] == "SV2"] == [
        ("0450", "HC:99284", "1250", "1"), ("0300", "HC:80053", "210", "1"), ("0250", "", "37.2", "3")]
    assert ["CL1", "1", "1", "01"] in x12  # admission type, point of origin, discharge status
    claim = (await fhir.get(f"/fhir/Claim/{claim_id}")).json()
    assert claim["type"]["coding"][0]["code"] == "institutional"
    assert {info["category"]["coding"][0]["code"] for info in claim["supportingInfo"]} >= {"typeofbill",
                                                                                          "discharge-status"}


async def test_a_batch_takes_each_claim_on_its_own(fhir):
    body = fresh(example("professional-batch-restful"))
    refused = copy.deepcopy(body["entry"][0])
    refused["fullUrl"] = "https://ehr.example.org/fhir/Claim/c-2002"
    refused["resource"]["id"] = "c-2002"
    refused["resource"]["identifier"][0]["value"] = f"FHIR-{uuid.uuid4().hex[:12]}"
    refused["resource"]["item"][0]["net"]["currency"] = "EUR"
    refused["resource"]["use"] = "predetermination"
    body["entry"].append(refused)
    response = await fhir.post("/fhir", json=body)
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert response.json()["type"] == "batch-response"
    assert [e["response"]["status"] for e in entries] == ["201 Created"] + ["200 OK"] * 5 + ["422 Unprocessable Entity"]
    issues = entries[-1]["response"]["outcome"]["issue"]
    assert {i["expression"][0] for i in issues} == {"Bundle.entry[6].resource.use",
                                                    "Bundle.entry[6].resource.item[0].net.currency"}
    taken = (await fhir.get("/v1/claims")).json()["items"]
    assert [c["encounter_id"] for c in taken] == [body["entry"][0]["resource"]["identifier"][0]["value"]]


async def test_an_unkeyed_batch_takes_its_claims_together_each_once_in_entry_order(fhir):
    body = fresh(example("professional-batch-restful"))
    second = copy.deepcopy(body["entry"][0])
    second["fullUrl"] = "https://ehr.example.org/fhir/Claim/c-2002"
    second["resource"]["id"] = "c-2002"
    second["resource"]["identifier"][0]["value"] = f"FHIR-{uuid.uuid4().hex[:12]}"
    body["entry"].append(second)
    response = await fhir.post("/fhir", json=body)
    assert response.status_code == 200, response.text
    assert [e["response"]["status"] for e in response.json()["entry"]] == \
        ["201 Created"] + ["200 OK"] * 5 + ["201 Created"]
    identifiers = {e["resource"]["identifier"][0]["value"] for e in (body["entry"][0], second)}
    assert {c["encounter_id"] for c in (await fhir.get("/v1/claims")).json()["items"]} == identifiers
    # The same Bundle again: each Claim was taken already.
    again = await fhir.post("/fhir", json=body)
    assert [e["response"]["status"] for e in again.json()["entry"]] == \
        ["409 Conflict"] + ["200 OK"] * 5 + ["409 Conflict"]
    # A Bundle repeating a Claim's identifier: the first taken, the repeat refused, in entry order.
    repeated = fresh(example("professional-batch-restful"))
    twin = copy.deepcopy(repeated["entry"][0])
    twin["fullUrl"] = "https://ehr.example.org/fhir/Claim/c-2003"
    repeated["entry"].append(twin)
    answer = await fhir.post("/fhir", json=repeated)
    assert [e["response"]["status"] for e in answer.json()["entry"]] == \
        ["201 Created"] + ["200 OK"] * 5 + ["409 Conflict"]
    assert len((await fhir.get("/v1/claims")).json()["items"]) == 3


async def test_a_collection_is_taken_like_a_batch(fhir):
    body = fresh(example("professional-batch-restful"))
    body["type"] = "collection"
    for entry in body["entry"]:
        del entry["request"]
    response = await fhir.post("/fhir", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "batch-response"
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["201 Created"] + ["200 OK"] * 5


async def test_a_transaction_with_one_bad_claim_takes_none(fhir):
    body = fresh(example("professional-batch-restful"))
    body["type"] = "transaction"
    second = copy.deepcopy(body["entry"][0])
    second["fullUrl"] = "https://ehr.example.org/fhir/Claim/c-2002"
    second["resource"]["identifier"][0]["value"] = f"FHIR-{uuid.uuid4().hex[:12]}"
    second["resource"]["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["system"] = "http://snomed.info/sct"
    body["entry"].append(second)
    response = await fhir.post("/fhir", json=body)
    assert response.status_code == 422, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert [i["expression"] for i in outcome["issue"]] == [
        ["Bundle.entry[6].resource.diagnosis[0].diagnosisCodeableConcept"]]
    assert (await fhir.get("/v1/claims")).json()["items"] == []  # the good Claim was not kept either
    del body["entry"][6]
    assert (await fhir.post("/fhir", json=body)).status_code == 200


async def test_refusals_are_one_operation_outcome_naming_each_element(fhir):
    body = fresh(example("professional-claim-contained"))
    body["status"] = "draft"
    body["contained"][0]["birthDate"] = "1968"
    body["item"][2]["net"] = {"value": 3.00, "currency": "USD"}  # 1.5 × 2.10 is 3.15
    body["insurer"] = {"identifier": {"system": NAIC, "value": "00000"}}
    response = await fhir.post("/fhir/Claim", json=body)
    assert response.status_code == 422 and response.headers["content-type"] == "application/fhir+json"
    issues = {i["expression"][0]: i for i in response.json()["issue"]}
    assert set(issues) == {"Claim.status", "Claim.patient.resolve().birthDate", "Claim.item[2].net",
                           "Claim.insurer.identifier", "Claim.total"}
    assert all(i["severity"] == "error" and i["diagnostics"] for i in issues.values())

    not_json = await fhir.post("/fhir/Claim", content=b"{", headers={"content-type": "application/fhir+json"})
    assert not_json.status_code == 400 and not_json.json()["resourceType"] == "OperationOutcome"
    not_a_claim = await fhir.post("/fhir/Claim", json={"resourceType": "Patient"})
    assert not_a_claim.status_code == 422
    assert not_a_claim.json()["issue"][0]["expression"] == ["Claim.resourceType"]


async def test_the_same_claim_twice_is_a_conflict_and_a_replayed_key_is_the_same_answer(fhir):
    body = fresh(example("professional-claim-contained"))
    first = await fhir.post("/fhir/Claim", json=body, headers={"Idempotency-Key": "fhir-1"})
    replay = await fhir.post("/fhir/Claim", json=body, headers={"Idempotency-Key": "fhir-1"})
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == first.json()
    assert replay.headers["location"] == first.headers["location"]
    # The key with another Claim: refused, nothing taken (the key's answer stays the first one's).
    reused = await fhir.post("/fhir/Claim", json=fresh(example("professional-claim-contained")),
                             headers={"Idempotency-Key": "fhir-1"})
    assert reused.status_code == 422 and reused.headers["content-type"] == "application/fhir+json"
    assert (await fhir.post("/fhir/Claim", json=body, headers={"Idempotency-Key": "fhir-1"})).json() == first.json()
    again = await fhir.post("/fhir/Claim", json=body)
    assert again.status_code == 409
    [issue] = again.json()["issue"]
    assert (issue["code"], issue["expression"]) == ("duplicate", ["Claim.identifier"])


async def test_registered_parties_are_named_by_reference(fhir):
    patient = {"first_name": "Regina", "last_name": "Registered", "birth_date": "1981-02-03", "gender": "F",
               "address": {"line1": "8 Registry Road", "city": "Springfield", "state": "IL", "postal_code": "62701"}}
    assert (await fhir.put("/v1/patients/REG-PAT-1", json=patient)).status_code == 200
    coverage = {"payer_id": "60054", "member_id": "REG123", "order_of_benefits": 1, "effective_from": "2020-01-01"}
    assert (await fhir.put("/v1/patients/REG-PAT-1/coverages/primary", json=coverage)).status_code == 200
    billing = {"name": "Synthetic Family Clinic", "tax_id": "123456789", "roles": ["billing"],
               "address": {"line1": "100 Main Street", "city": "Springfield", "state": "IL", "postal_code": "627011234"}}
    assert (await fhir.put(f"/v1/providers/{BILLING_NPI}", json=billing)).status_code == 200
    rendering = {"first_name": "Rene", "last_name": "Renderer", "roles": ["rendering"]}
    assert (await fhir.put(f"/v1/providers/{RENDERING_NPI}", json=rendering)).status_code == 200

    body = fresh(example("professional-claim-registered"))
    response = await fhir.post("/fhir/Claim", json=body)
    assert response.status_code == 201, response.text
    claim = (await fhir.get(f"/v1/claims/{response.json()['id']}")).json()
    assert (claim["patient_id"], claim["total_charge"]) == ("REG-PAT-1", "90.00")
    body["identifier"][0]["value"] += "-2"
    body["patient"] = {"reference": "Patient/NOT-REGISTERED"}
    refused = await fhir.post("/fhir/Claim", json=body)
    assert refused.status_code == 422
    assert {i["expression"][0] for i in refused.json()["issue"]} == {"Claim.patient"}


async def test_payer_identifiers_are_unique_in_a_practice(fhir):
    shown = (await fhir.get("/v1/payers/60054")).json()
    assert shown["identifiers"] == sorted(PAYER["identifiers"], key=lambda i: (i["system"], i["value"]))
    clash = {**PAYER, "identifiers": [{"system": NAIC, "value": "11111"}, {"system": NAIC, "value": "98765"}]}
    response = await fhir.put("/v1/payers/BSI01", json=clash)
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/identifiers/1"]
    assert (await fhir.get("/v1/payers/BSI01")).status_code == 404  # nothing of it was kept


async def test_the_claim_response_carries_the_payers_adjudication(fhir, stack):
    member = "FH" + uuid.uuid4().hex[:8].upper()
    # The payer allows 120.00 for 99214 and the other charges in full, the patient paying 20 %:
    #   99214: 150.00 - CO45 30.00 - PR2 24.00 = 96.00;  96372: 28.50 - PR2 5.70 = 22.80;
    #   J1100: 3.15 - PR2 0.63 = 2.52;  paid 121.32.
    rule = {"member_id_pattern": f"^{member}$", "action": "pay",
            "fee_schedule": {"allowed": {"99214": "120.00"}, "coinsurance_percent": "20"}}
    async with payer_rules(stack, [rule]):
        response = await fhir.post("/fhir/Claim", json=with_member(fresh(example("professional-claim-contained")),
                                                                    member))
        assert response.status_code == 201, response.text
        claim_id = response.json()["id"]
        await claim_in({"claims": fhir}, claim_id, "paid", timeout=60)
    answer = (await fhir.get(f"/fhir/ClaimResponse/{claim_id}")).json()
    assert answer["outcome"] == "complete"
    assert answer["payment"]["amount"] == {"value": 121.32, "currency": "USD"}

    def amount(item: dict, category: str) -> float:
        return next(a["amount"]["value"] for a in item["adjudication"] if a["category"]["coding"][0]["code"] == category)
    first = answer["item"][0]
    assert (first["itemSequence"], amount(first, "submitted"), amount(first, "eligible"), amount(first, "benefit"),
            amount(first, "coinsurance")) == (1, 150.0, 120.0, 96.0, 24.0)
    assert [amount(item, "benefit") for item in answer["item"]] == [96.0, 22.8, 2.52]
    assert {t["category"]["coding"][0]["code"]: t["amount"]["value"] for t in answer["total"]}["benefit"] == 121.32


async def test_other_practices_claims_are_not_found(fhir):
    missing = await fhir.get(f"/fhir/Claim/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"
    assert (await fhir.get("/fhir/ClaimResponse/not-a-uuid")).status_code == 404


async def test_the_fhir_routes_need_the_claims_scopes(stack, tenant):
    claims_url = stack.services["claims"].url
    reader = auth_headers(stack, tenant, scopes=["claims:read"])
    async with httpx.AsyncClient(base_url=claims_url, timeout=30) as anonymous:
        for path in (f"/fhir/Claim/{uuid.uuid4()}", f"/fhir/ClaimResponse/{uuid.uuid4()}"):
            assert (await anonymous.get(path)).status_code == 401
        assert (await anonymous.post("/fhir", json={"resourceType": "Bundle"})).status_code == 401
    async with httpx.AsyncClient(base_url=claims_url, headers=reader, timeout=30) as read_only:
        for path in ("/fhir", "/fhir/Claim"):
            assert (await read_only.post(path, json=example("professional-claim-contained"))).status_code == 403
        assert (await read_only.get(f"/fhir/Claim/{uuid.uuid4()}")).status_code == 404


async def test_a_reversed_decision_no_longer_counts_in_the_claim_response(fhir, stack):
    member = "FR" + uuid.uuid4().hex[:8].upper()
    # First 80 % of each charge (99214 120.00, 96372 22.80, J1100 2.52: 145.32), then reversed and
    # paid again in full (181.65): the ClaimResponse shows the standing decision only.
    rule = {"member_id_pattern": f"^{member}$", "action": "reverse_and_correct", "correction_delay_seconds": 1,
            "fee_schedule": {"percent_of_charge": "80"}, "corrected_fee_schedule": {"percent_of_charge": "100"}}
    async with payer_rules(stack, [rule]):
        response = await fhir.post("/fhir/Claim", json=with_member(fresh(example("professional-claim-contained")),
                                                                    member))
        claim_id = response.json()["id"]

        async def paid_in_full():
            answer = (await fhir.get(f"/fhir/ClaimResponse/{claim_id}")).json()
            assert answer.get("payment", {}).get("amount", {}).get("value") == 181.65, answer.get("payment")
            return answer
        answer = await eventually(paid_in_full, timeout=60)
    assert answer["outcome"] == "complete"
    benefits = [next(a["amount"]["value"] for a in item["adjudication"] if a["category"]["coding"][0]["code"] == "benefit")
                for item in answer["item"]]
    assert benefits == [150.0, 28.5, 3.15]
