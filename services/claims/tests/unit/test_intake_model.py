"""The encounter model beyond single fields: parties in full or by id, professional vs
institutional settings, other coverages in order of benefits, and splitting lines into claims
the 837 can carry (no I/O). Synthetic data only."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from openrcm_claims.entrypoints.party_schemas import CoverageRecordIn, FacilityRecordIn, ProviderRecordIn
from openrcm_claims.entrypoints.schemas import EncounterIn
from openrcm_claims.service_layer.submission import split_lines
from tests.support import BILLING_NPI, RENDERING_NPI, encounter

SERVED = (date.today() - timedelta(days=5)).isoformat()


def institutional_encounter(**changes) -> dict:
    body = encounter()
    body.update(setting="institutional", attending_provider=body.pop("rendering_provider"),
                institutional={"type_of_bill": "0131", "patient_status": "01"},
                lines=[{"revenue_code": "0450", "procedure_code": "99284", "charge_amount": "850.00",
                        "service_date": SERVED},
                       {"revenue_code": "0300", "charge_amount": "42.75", "service_date": SERVED}])
    body.pop("place_of_service")
    body.update(changes)
    return body


def problems(body: dict) -> set[str]:
    return {pointer for pointer, _ in EncounterIn.model_validate(body).consistency_errors()}


def test_parties_by_id_instead_of_in_full():
    body = encounter()
    del body["patient"], body["coverage"], body["billing_provider"], body["rendering_provider"]
    body.update(patient_id="PAT-1", billing_provider_npi=BILLING_NPI, rendering_provider_npi=RENDERING_NPI,
                service_facility_id="annex-1")
    assert problems(body) == set()


def test_each_party_in_full_or_by_id_never_both_never_neither():
    both = encounter()
    both["patient_id"] = "PAT-1"
    both["billing_provider_npi"] = BILLING_NPI
    assert problems(both) == {"/patient_id", "/billing_provider_npi"}
    neither = encounter()
    del neither["patient"], neither["billing_provider"]
    assert problems(neither) == {"/patient", "/billing_provider"}


def test_a_referenced_npi_is_checked_like_an_embedded_one():
    body = encounter()
    del body["billing_provider"]
    body["billing_provider_npi"] = "1234567890"
    with pytest.raises(ValidationError) as caught:
        EncounterIn.model_validate(body)
    assert [e["loc"] for e in caught.value.errors()] == [("billing_provider_npi",)]


def test_other_coverages_follow_the_billed_one_in_order_of_benefits():
    body = encounter()
    body["other_coverages"] = [{"payer_id": "BSI01", "member_id": "S-1", "payer_responsibility": "S"},
                               {"payer_id": "TRI01", "member_id": "T-1", "payer_responsibility": "T"}]
    assert problems(body) == set()
    body["other_coverages"][1]["payer_responsibility"] = "P"
    assert problems(body) == {"/other_coverages/1/payer_responsibility"}
    without = encounter()
    del without["coverage"]
    without["other_coverages"] = [{"payer_id": "BSI01", "member_id": "S-1", "payer_responsibility": "S"}]
    assert problems(without) == {"/coverage"}


def test_a_professional_encounter_needs_procedures_and_pointers_and_no_institutional_data():
    body = encounter()
    del body["lines"][0]["procedure_code"]
    body["lines"][1]["diagnosis_pointers"] = []
    body["lines"][1]["revenue_code"] = "0300"
    body["attending_provider_npi"] = BILLING_NPI
    body["diagnosis_codes"] = ["E11.9"] * 13
    assert problems(body) == {"/lines/0/procedure_code", "/lines/1/diagnosis_pointers", "/lines/1/revenue_code",
                              "/attending_provider_npi", "/diagnosis_codes/12"}


def test_an_institutional_encounter_needs_its_details_and_revenue_codes():
    parsed = EncounterIn.model_validate(institutional_encounter(diagnosis_codes=["R07.9"] + ["E11.9"] * 24))
    assert parsed.consistency_errors() == []
    assert (parsed.frequency_code, parsed.institutional.facility_type, parsed.max_lines_per_claim) == ("1", "13", 999)

    body = institutional_encounter(institutional=None, rendering_provider_npi=RENDERING_NPI)
    body["lines"][1].pop("revenue_code")
    assert problems(body) == {"/institutional", "/rendering_provider_npi", "/lines/1/revenue_code"}
    replacement = institutional_encounter(institutional={"type_of_bill": "137", "patient_status": "01",
                                                         "admission_hour": 9})
    assert problems(replacement) == {"/institutional/type_of_bill", "/institutional/admission_hour"}


def test_institutional_fields_are_validated_by_form():
    body = institutional_encounter(institutional={"type_of_bill": "0931", "patient_status": "1", "admission_hour": 24})
    with pytest.raises(ValidationError) as caught:
        EncounterIn.model_validate(body)
    assert {e["loc"] for e in caught.value.errors()} == {
        ("institutional", "type_of_bill"), ("institutional", "patient_status"), ("institutional", "admission_hour")}


def test_professional_lines_beyond_fifty_are_split_into_claims_of_at_most_fifty():
    body = encounter(lines=[{"procedure_code": "99213", "charge_amount": f"{n}.00", "service_date": SERVED,
                             "diagnosis_pointers": [1]} for n in range(1, 121)])
    parts = split_lines(EncounterIn.model_validate(body))
    assert [len(part.lines) for part in parts] == [50, 50, 20]
    assert [str(part.lines[0].charge_amount) for part in parts] == ["1.00", "51.00", "101.00"]
    assert all(part.diagnosis_codes == ["E119", "I10"] for part in parts)
    institutional = institutional_encounter(lines=[{"revenue_code": "0250", "charge_amount": "1.00",
                                                    "service_date": SERVED}] * 120)
    assert [len(part.lines) for part in split_lines(EncounterIn.model_validate(institutional))] == [120]


def test_registry_bodies_name_each_field_that_spans_others():
    coverage = CoverageRecordIn(payer_id="60054", member_id="M1", relationship_to_subscriber="19",
                                effective_from=date(2026, 1, 1), effective_to=date(2025, 12, 31))
    assert {p for p, _ in coverage.problems()} == {"/effective_to", "/subscriber"}
    billing = ProviderRecordIn(roles=["billing", "rendering"], address={
        "line1": "PO Box 12", "city": "Springfield", "state": "IL", "postal_code": "62701"})
    assert {p for p, _ in billing.problems()} == {"/name", "/tax_id", "/address/line1", "/address/postal_code",
                                                  "/first_name", "/last_name"}
    facility = FacilityRecordIn(name="Synthetic Annex", address={
        "line1": "5 Side Street", "city": "Springfield", "state": "IL", "postal_code": "627011234"})
    assert facility.problems() == []
