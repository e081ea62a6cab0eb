"""FHIR R4 Claim intake: a ClaimResponse for a good Claim, an OperationOutcome naming each problem."""

from __future__ import annotations

import copy
import uuid
from datetime import date, timedelta

import pytest

from tests.support import BILLING_NPI, RENDERING_NPI

pytestmark = pytest.mark.stack


def fhir_claim() -> dict:
    served = (date.today() - timedelta(days=4)).isoformat()
    return {
        "resourceType": "Claim", "status": "active", "use": "claim", "created": served,
        "identifier": [{"system": "http://ehr.example.org/encounters", "value": f"FHIR-{uuid.uuid4().hex[:10]}"}],
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "priority": {"coding": [{"code": "normal"}]},
        "contained": [
            {"resourceType": "Patient", "id": "pat", "identifier": [{"system": "http://ehr.example.org/mrn",
                                                                    "value": "MRN-FHIR-1"}],
             "name": [{"family": "Synthetic", "given": ["Fhira"]}], "gender": "female", "birthDate": "1985-06-01",
             "address": [{"line": ["5 Sample Road"], "city": "Springfield", "state": "IL", "postalCode": "62702"}]},
            {"resourceType": "Organization", "id": "payer", "name": "Synthetic Health Plan",
             "identifier": [{"system": "http://openrcm.org/fhir/sid/payer-id", "value": "60054"}]},
            {"resourceType": "Coverage", "id": "cov", "status": "active", "beneficiary": {"reference": "#pat"},
             "subscriberId": "XJFHIR001", "payor": [{"reference": "#payer"}]},
            {"resourceType": "Organization", "id": "clinic", "name": "Synthetic Family Clinic",
             "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": BILLING_NPI},
                            {"system": "urn:oid:2.16.840.1.113883.4.4", "value": "123456789"}],
             "address": [{"line": ["100 Main Street"], "city": "Springfield", "state": "IL",
                          "postalCode": "627011234"}]},
            {"resourceType": "Practitioner", "id": "doc",
             "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": RENDERING_NPI}],
             "name": [{"family": "Renderer", "given": ["Rene"]}]},
        ],
        "patient": {"reference": "#pat"}, "provider": {"reference": "#clinic"},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "#cov"}}],
        "careTeam": [{"sequence": 1, "provider": {"reference": "#doc"}}],
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [
            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]}}],
        "item": [{"sequence": 1, "diagnosisSequence": [1], "servicedDate": served,
                  "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99213"}]},
                  "modifier": [{"coding": [{"code": "25"}]}], "quantity": {"value": 1},
                  "net": {"value": 125.00, "currency": "USD"},
                  "locationCodeableConcept": {"coding": [{"code": "11"}]}}],
        "total": {"value": 125.00, "currency": "USD"},
    }


async def test_a_fhir_claim_becomes_a_claim_and_gets_a_claim_response(api):
    body = fhir_claim()
    response = await api["claims"].post("/fhir/Claim", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    claim_response = response.json()
    assert claim_response["resourceType"] == "ClaimResponse" and claim_response["outcome"] == "queued"
    claim = (await api["claims"].get(response.headers["location"])).json()
    assert claim["encounter_id"] == body["identifier"][0]["value"]
    assert (claim["total_charge"], claim["diagnosis_codes"], claim["patient_id"]) == ("125.00", ["E119"], "MRN-FHIR-1")


async def test_problems_come_back_as_an_operation_outcome(api):
    not_a_claim = await api["claims"].post("/fhir/Claim", json={"resourceType": "Claim", "status": "bogus"})
    assert not_a_claim.status_code == 422
    outcome = not_a_claim.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["severity"] == "error"

    no_coverage = copy.deepcopy(fhir_claim())
    no_coverage["insurance"][0]["coverage"] = {"reference": "#missing"}
    response = await api["claims"].post("/fhir/Claim", json=no_coverage)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Claim.insurance[0].coverage"]

    bad_code = copy.deepcopy(fhir_claim())
    bad_code["item"][0]["productOrService"]["coding"][0]["code"] = "12"
    response = await api["claims"].post("/fhir/Claim", json=bad_code)
    assert response.status_code == 422 and "procedure_code" in response.json()["issue"][0]["diagnostics"]

    unknown_payer = copy.deepcopy(fhir_claim())
    unknown_payer["contained"][1]["identifier"][0]["value"] = "NOPE9"
    response = await api["claims"].post("/fhir/Claim", json=unknown_payer)
    assert response.status_code == 422 and response.json()["issue"][0]["expression"] == ["/coverage/payer_id"]
