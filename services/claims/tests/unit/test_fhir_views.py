"""Stored claims shown as FHIR (no I/O): the Claim that was taken reads back as the same
encounter, and the ClaimResponse carries the status, the scrubber's findings, and the payer's
adjudication from the 835, line by line. Synthetic data only."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from uuid import uuid4

import pytest

from openrcm_claims.adapters.fhir.views import claim_resource, claim_response
from openrcm_claims.entrypoints.schemas import ClaimLineOut, ScrubHitOut
from services.claims.tests.unit.claim_rows import claim_row
from services.claims.tests.unit.fhir_support import encounter_of
from tests.fhir_examples import example

SERVED = date.today() - timedelta(days=5)
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"


def stored(encounter) -> tuple:
    """The claim row and lines the service would store for this encounter."""
    claim, lines = claim_row(encounter.model_dump(mode="json"))
    claim.status, claim.created_at = "ready", datetime.now(timezone.utc)
    return claim, lines


@pytest.mark.parametrize("name", ["professional-claim-contained", "institutional-outpatient-transaction",
                                  "professional-claim-registered"])
async def test_the_claim_taken_reads_back_as_the_same_encounter(name):
    taken = await encounter_of(example(name, served=SERVED))
    claim, lines = stored(taken)
    resource = claim_resource(claim, lines, taken)
    assert resource["resourceType"] == "Claim" and resource["id"] == str(claim.id)
    assert resource["type"]["coding"][0]["code"] == ("institutional" if taken.institutional_claim else "professional")
    # Posted again, the Claim shown is the same encounter: every party contained, codes in their systems.
    assert (await encounter_of(resource)).model_dump() == taken.model_dump()


async def test_the_claim_shows_fractional_units_and_the_charge_as_net():
    taken = await encounter_of(example("professional-claim-contained", served=SERVED))
    claim, lines = stored(taken)
    third = claim_resource(claim, lines, taken)["item"][2]
    assert (third["quantity"]["value"], third["net"]["value"], third["unitPrice"]["value"]) == (1.5, 3.15, 2.1)
    assert third["productOrService"]["coding"][0] == {"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                                                      "code": "J1100"}


def a_claim(status: str, **changes) -> SimpleNamespace:
    lines = [ClaimLineOut(line_number=1, procedure_code="99213", modifiers=[], units=Decimal(1),
                          charge_amount=Decimal("125.00"), service_date=SERVED, place_of_service=None,
                          diagnosis_pointers=[1]),
             ClaimLineOut(line_number=2, procedure_code="36415", modifiers=[], units=Decimal(1),
                          charge_amount=Decimal("15.50"), service_date=SERVED, place_of_service=None,
                          diagnosis_pointers=[1])]
    return SimpleNamespace(**{
        "id": uuid4(), "status": status, "claim_type": "professional", "patient_id": "P-1", "payer_id": "60054",
        "patient_control_number": "RPCN0001", "payer_claim_control_number": None, "total_charge": Decimal("140.50"),
        "paid_amount": Decimal(0), "updated_at": datetime.now(timezone.utc), "lines": lines, "scrub_hits": [],
        **changes})


def the_payers_decision(**changes) -> SimpleNamespace:
    """Line 1: 125.00 - CO45 25.00 - PR2 20.00 = 80.00 paid; line 2: 15.50 - CO97 15.50 = 0.00."""
    return SimpleNamespace(**{
        "adjudicated_on": SERVED + timedelta(days=3), "outcome": "partially_paid", "charge_amount": Decimal("140.50"),
        "allowed_amount": Decimal("100.00"), "paid_amount": Decimal("80.00"),
        "patient_responsibility_amount": Decimal("20.00"),
        "adjustments": [{"line_number": 1, "group_code": "CO", "carc": "45", "amount": "25.00"},
                        {"line_number": 1, "group_code": "PR", "carc": "2", "amount": "20.00"},
                        {"line_number": 2, "group_code": "CO", "carc": "97", "amount": "15.50"}],
        "patient_shares": [{"line_number": 1, "kind": "coinsurance", "carc": "2", "amount": "20.00"}],
        "lines": [{"line_number": 1, "charge_amount": "125.00", "allowed_amount": "100.00", "paid_amount": "80.00",
                   "patient_responsibility_amount": "20.00"},
                  {"line_number": 2, "charge_amount": "15.50", "allowed_amount": "0.00", "paid_amount": "0.00",
                   "patient_responsibility_amount": "0.00"}],
        **changes})


def amounts(adjudication: list[dict]) -> dict:
    return {(entry["category"]["coding"][0]["code"], (entry.get("reason") or {}).get("coding", [{}])[0].get("code")):
            entry["amount"]["value"] for entry in adjudication}


def test_the_claim_response_of_an_adjudicated_claim_carries_the_835():
    response = claim_response(a_claim("partially_paid", paid_amount=Decimal("80.00"),
                                      payer_claim_control_number="PCCN1"), [the_payers_decision()])
    assert (response["outcome"], response["status"]) == ("complete", "active")
    assert response["payment"]["amount"] == {"value": 80.0, "currency": "USD"}
    assert response["payment"]["date"] == (SERVED + timedelta(days=3)).isoformat()
    first, second = response["item"]
    assert amounts(first["adjudication"]) == {("submitted", None): 125.0, ("eligible", None): 100.0,
                                              ("benefit", None): 80.0, ("coinsurance", "2"): 20.0, ("CO", "45"): 25.0}
    assert amounts(second["adjudication"]) == {("submitted", None): 15.5, ("eligible", None): 0.0,
                                               ("benefit", None): 0.0, ("CO", "97"): 15.5}
    assert {t["category"]["coding"][0]["code"]: t["amount"]["value"] for t in response["total"]} == {
        "submitted": 140.5, "eligible": 100.0, "benefit": 80.0}
    assert {"system": "http://openrcm.org/fhir/sid/payer-claim-control-number", "value": "PCCN1"} in response["identifier"]


def test_a_claim_response_before_adjudication_is_queued_and_a_held_one_names_its_errors():
    queued = claim_response(a_claim("submitted"), [])
    assert queued["outcome"] == "queued" and "payment" not in queued and "item" not in queued
    hit = ScrubHitOut(rule_id="NCCI.PTP", severity="block", message="36415 is bundled into 99213", pointer="/lines/1")
    held = claim_response(a_claim("held", scrub_hits=[hit]), [])
    assert held["outcome"] == "error"
    assert held["error"] == [{"itemSequence": 2, "code": {"coding": [{"system": "http://openrcm.org/fhir/CodeSystem/"
                                                                                "scrubber-rule", "code": "NCCI.PTP"}],
                                                          "text": "36415 is bundled into 99213"}}]
    rejected = claim_response(a_claim("rejected"), [], rejection_reasons=["A7:21"])
    assert rejected["outcome"] == "error" and rejected["error"][0]["code"]["text"] == "A7:21"


def test_a_denied_claim_has_no_payment_and_a_voided_one_is_cancelled():
    denied = claim_response(a_claim("denied"), [the_payers_decision(
        outcome="denied", allowed_amount=Decimal(0), paid_amount=Decimal(0), patient_shares=[],
        adjustments=[{"line_number": None, "group_code": "CO", "carc": "29", "amount": "140.50"}],
        lines=[])])
    assert denied["outcome"] == "complete" and "payment" not in denied
    assert amounts(denied["adjudication"]) == {("CO", "29"): 140.5}  # the claim-level denial (timely filing)
    assert claim_response(a_claim("voided"), [])["status"] == "cancelled"


@pytest.mark.parametrize("status", ["ready", "submitted", "held", "rejected", "voided", "accepted_by_payer"])
def test_a_claim_response_before_adjudication_is_the_document_fhir_resources_validates(status):
    # Written without the fhir.resources round trip (the intake's hot path): the same document.
    from fhir.resources.R4B.claimresponse import ClaimResponse

    hits = [ScrubHitOut(rule_id="NCCI.PTP", severity="block", message="bundled", pointer="/lines/1")]
    claim = a_claim(status, scrub_hits=hits if status == "held" else [])
    response = claim_response(claim, [], rejection_reasons=["A7:21"] if status == "rejected" else (),
                              notes=["a note", "another"])
    assert response == ClaimResponse.model_validate(response).model_dump(mode="json", exclude_none=True)
