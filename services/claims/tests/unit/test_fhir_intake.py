"""FHIR R4 Claims read into encounters (no I/O; the practice's registry in memory): parties
contained, in Bundles (urn:uuid and RESTful fullUrls) and registered; institutional claims with
their UB-04 data; charges, fractional units, partial dates, codings by system; and every refusal
naming its FHIRPath, all of them at once. Synthetic data only."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal

import pytest

from openrcm_claims.adapters.fhir.resources import parse_bundle
from services.claims.tests.unit.fhir_support import (
    NAIC, PracticeRegistry, encounter_of, expressions, reading_of, refusal_of,
)
from tests.fhir_examples import example
from tests.support import BILLING_NPI, RENDERING_NPI

SERVED = date.today() - timedelta(days=5)
CPT = "http://www.ama-assn.org/go/cpt"


def contained() -> dict:
    return example("professional-claim-contained", served=SERVED)


def item(body: dict, index: int = 0) -> dict:
    if body["resourceType"] == "Bundle":
        body = body["entry"][0]["resource"]
    return body["item"][index]


# -- what is taken -------------------------------------------------------------------------------


async def test_a_professional_claim_with_contained_parties():
    encounter = await encounter_of(contained())
    assert encounter.setting == "professional" and encounter.encounter_id == "ENC-20261102-0042"
    assert (encounter.patient.id, encounter.patient.last_name, encounter.patient.birth_date) == (
        "MRN-300142", "Sampleton", date(1968, 3, 14))
    coverage = encounter.coverage
    # The payer found from Claim.insurer's NAIC code (and Coverage.payor's, which agrees).
    assert (coverage.payer_id, coverage.member_id, coverage.group_number, coverage.relationship_to_subscriber,
            coverage.claim_filing_indicator) == ("60054", "SHP44512098", "GRP-7781", "18", "CI")
    assert (encounter.billing_provider.npi, encounter.billing_provider.tax_id) == (BILLING_NPI, "123456789")
    assert (encounter.rendering_provider.npi, encounter.rendering_provider.taxonomy_code) == (RENDERING_NPI,
                                                                                               "207Q00000X")
    assert encounter.prior_authorization == "PA-55012" and encounter.place_of_service == "11"
    assert encounter.diagnosis_codes == ["E119", "I10"]  # I10 chosen from beside a local problem-list code
    first, second, third = encounter.lines
    assert (first.procedure_code, first.modifiers, first.charge_amount, first.diagnosis_pointers) == (
        "99214", ["25"], Decimal("150.00"), [1, 2])  # 99214 chosen from beside a charge-master code
    assert (second.procedure_code, second.charge_amount, second.diagnosis_pointers) == ("96372", Decimal("28.50"), [1])
    # No net: quantity × unitPrice = 1.5 × 2.10; the half unit kept.
    assert (third.procedure_code, third.units, third.charge_amount) == ("J1100", Decimal("1.5"), Decimal("3.15"))
    assert all(line.service_date == SERVED and line.place_of_service is None for line in encounter.lines)


async def test_an_institutional_claim_in_a_transaction_bundle_becomes_an_837i_encounter():
    encounter = await encounter_of(example("institutional-outpatient-transaction", served=SERVED))
    assert encounter.setting == "institutional" and encounter.institutional_claim
    details = encounter.institutional
    assert (details.type_of_bill, details.patient_status, details.admission_source, details.admission_type) == (
        "0131", "01", "1", "1")
    assert (details.statement_from, details.statement_to) == (SERVED, SERVED)
    assert encounter.attending_provider.npi == RENDERING_NPI and encounter.rendering_provider is None
    # Found by fullUrl (urn:uuid); the payer by its clearinghouse payer id.
    assert (encounter.patient.id, encounter.coverage.payer_id, encounter.coverage.member_id) == (
        "H-5520017", "60054", "SHP99002231")
    assert [(l.revenue_code, l.procedure_code, l.units, l.charge_amount) for l in encounter.lines] == [
        ("0450", "99284", 1, Decimal("1250.00")), ("0300", "80053", 1, Decimal("210.00")),
        ("0250", None, 3, Decimal("37.20"))]  # a data-absent-reason productOrService: revenue code alone
    assert encounter.diagnosis_codes == ["R079", "I10"] and encounter.consistency_errors() == []


async def test_inpatient_admission_data_days_and_the_admitting_diagnosis():
    body = example("institutional-outpatient-transaction", served=SERVED)
    claim = body["entry"][0]["resource"]
    carin = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType"
    claim["subType"]["coding"][0]["code"] = "inpatient"
    claim["supportingInfo"][0]["code"]["coding"][0]["code"] = "0111"
    admitted = SERVED - timedelta(days=2)
    claim["supportingInfo"].append({"sequence": 5, "category": {"coding": [{"system": carin, "code": "admissionperiod"}]},
                                    "timingPeriod": {"start": f"{admitted}T22:15:00-06:00",
                                                     "end": f"{SERVED}T10:00:00-06:00"}})
    claim["diagnosis"].append({"sequence": 3, "type": [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/ex-diagnosistype", "code": "admitting"}]}],
        "diagnosisCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R07.89"}]}})
    claim["item"][2]["revenue"]["coding"][0]["code"] = "0120"
    claim["item"][2]["quantity"] = {"value": 2, "system": "http://unitsofmeasure.org", "code": "d"}
    claim["item"][2]["unitPrice"]["value"] = Decimal("18.60")
    encounter = await encounter_of(body)
    details = encounter.institutional
    # The dateTime's own day and hour, as written (never converted to UTC).
    assert (details.admission_date, details.admission_hour, details.discharge_hour) == (admitted, 22, 10)
    assert details.admitting_diagnosis == "R0789" and encounter.diagnosis_codes == ["R079", "I10"]
    assert (encounter.lines[2].unit_basis, encounter.lines[2].units) == ("DA", 2)


async def test_a_batch_bundle_with_restful_full_urls_resolves_relative_references():
    encounter = await encounter_of(example("professional-batch-restful", served=SERVED))
    assert (encounter.patient.id, encounter.patient.gender) == ("p-1001", "U")  # the entry's id; "other" -> U
    assert (encounter.coverage.payer_id, encounter.billing_provider.name, encounter.rendering_provider.last_name) == (
        "60054", "Synthetic Family Clinic", "Renderer")
    assert encounter.place_of_service == "11"  # from THO's POS system, an alias of CMS's


NPI = "http://hl7.org/fhir/sid/us-npi"


def _conditional(kind: str, system: str, value: str) -> dict:
    return {"reference": f"{kind}?identifier={system}|{value}"}


async def test_conditional_references_resolve_to_the_bundle_entry_with_the_identifier():
    # As Synthea's transaction Bundles name Organizations and Practitioners (R4 Bundle,
    # "conditional references"): Type?identifier=system|value, resolved inside the Bundle first.
    body = example("professional-batch-restful", served=SERVED)
    claim = body["entry"][0]["resource"]
    claim["provider"] = _conditional("Organization", NPI, BILLING_NPI)
    claim["careTeam"][0]["provider"] = {"reference": f"Practitioner?identifier={RENDERING_NPI}"}  # any system
    body["entry"][2]["resource"]["payor"] = [_conditional("Organization", NAIC, "98765")]
    encounter = await encounter_of(body)
    assert (encounter.billing_provider.name, encounter.rendering_provider.last_name) == (
        "Synthetic Family Clinic", "Renderer")  # the Bundle's entries, not the registry's records
    assert encounter.coverage.payer_id == "60054"


async def test_conditional_references_outside_the_bundle_name_registered_providers_and_payers():
    body = example("professional-claim-registered", served=SERVED)
    body["provider"] = _conditional("Organization", NPI, BILLING_NPI)
    body["careTeam"][0]["provider"] = _conditional("Practitioner", NPI, RENDERING_NPI)
    body["insurer"] = _conditional("Organization", NAIC, "98765")
    encounter = await encounter_of(body)
    assert (encounter.billing_provider.npi, encounter.rendering_provider.npi, encounter.coverage.payer_id) == (
        BILLING_NPI, RENDERING_NPI, "60054")


async def test_conditional_references_that_cannot_be_resolved_are_named():
    body = example("professional-batch-restful", served=SERVED)
    claim = body["entry"][0]["resource"]
    twin = copy.deepcopy(body["entry"][4])
    twin["fullUrl"] = "https://ehr.example.org/fhir/Organization/o-clinic-2"
    body["entry"].append(twin)
    claim["provider"] = _conditional("Organization", NPI, BILLING_NPI)  # two entries carry it
    claim["patient"] = _conditional("Patient", "https://ehr.example.org/mrn", "404")
    claim["careTeam"][0]["provider"] = {"reference": "Practitioner?name=Renderer"}
    body["entry"][2]["resource"]["payor"] = [_conditional("Organization", NAIC, "00000")]
    issues = {issue.expression: issue for issue in await refusal_of(body)}
    root = "Bundle.entry[0].resource"
    assert issues[f"{root}.provider"].code == "multiple-matches"
    assert "o-clinic-2" in issues[f"{root}.provider"].diagnostics
    assert issues[f"{root}.patient"].code == "not-found"
    assert "Patient/{id}" in issues[f"{root}.patient"].diagnostics
    assert issues[f"{root}.careTeam[0].provider"].code == "not-supported"
    payor = f"{root}.insurance[0].coverage.resolve().payor[0]"
    assert issues[payor].code == "not-found" and NAIC + "|00000" in issues[payor].diagnostics


async def test_registered_parties_are_referenced_by_id():
    encounter = await encounter_of(example("professional-claim-registered", served=SERVED))
    assert (encounter.patient.id, encounter.patient.last_name) == ("REG-PAT-1", "Registered")
    assert (encounter.coverage.payer_id, encounter.coverage.member_id) == ("60054", "REG123")
    assert encounter.billing_provider.npi == BILLING_NPI and encounter.rendering_provider.npi == RENDERING_NPI
    # CPT and ICD-10-CM by their OIDs; 2 × 45.00.
    assert (encounter.lines[0].procedure_code, encounter.lines[0].charge_amount, encounter.diagnosis_codes) == (
        "97110", Decimal("90.00"), ["M5450"])


async def test_the_payer_is_found_by_any_registered_identifier_or_by_reference():
    by_reference = contained()
    by_reference["insurer"] = {"reference": "Organization/60054"}
    assert (await encounter_of(by_reference)).coverage.payer_id == "60054"
    by_payor_only = contained()
    del by_payor_only["insurer"]
    by_payor_only["contained"][1]["identifier"] = [{"system": "https://other.example.org/id", "value": "X"},
                                                   {"system": NAIC, "value": "98765"}]
    assert (await encounter_of(by_payor_only)).coverage.payer_id == "60054"


async def test_later_coverages_are_the_next_payers_in_sequence_order():
    body = contained()
    body["contained"].append({"resourceType": "Organization", "id": "secondary-payer", "name": "Blue Sample",
                              "identifier": [{"system": NAIC, "value": "11111"}]})
    body["contained"].append({"resourceType": "RelatedPerson", "id": "spouse", "patient": {"reference": "#patient"},
                              "name": [{"family": "Sampleton", "given": ["Blake"]}], "gender": "male",
                              "birthDate": "1966-07-01"})
    body["contained"].append({"resourceType": "Coverage", "id": "coverage-2", "status": "active",
                              "subscriberId": "BSI777", "beneficiary": {"reference": "#patient"},
                              "subscriber": {"reference": "#spouse"}, "payor": [{"reference": "#secondary-payer"}],
                              "relationship": {"coding": [{
                                  "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                  "code": "spouse"}]}})
    body["insurance"].append({"sequence": 2, "focal": False, "coverage": {"reference": "#coverage-2"}})
    encounter = await encounter_of(body)
    [secondary] = encounter.other_coverages
    assert (secondary.payer_id, secondary.payer_responsibility, secondary.relationship_to_subscriber) == (
        "BSI01", "S", "01")
    assert (secondary.subscriber.first_name, secondary.subscriber.birth_date) == ("Blake", date(1966, 7, 1))


# -- charges, units, dates, codings --------------------------------------------------------------


async def test_the_charge_is_net_else_quantity_times_unit_price_times_factor():
    body = contained()
    line = item(body, 2)
    line["factor"] = Decimal("0.5")
    encounter = await encounter_of(_without_total(body))
    assert encounter.lines[2].charge_amount == Decimal("1.58")  # 1.5 × 2.10 × 0.5 = 1.575, to the cent
    line["net"] = {"value": Decimal("1.58"), "currency": "USD"}
    assert (await encounter_of(_without_total(body))).lines[2].charge_amount == Decimal("1.58")


def _without_total(body: dict) -> dict:
    body = copy.deepcopy(body)
    body.pop("total", None)
    return body


async def test_a_net_that_disagrees_with_quantity_times_unit_price_is_refused():
    body = contained()
    item(body, 2)["net"] = {"value": Decimal("3.00"), "currency": "USD"}
    [issue] = await refusal_of(_without_total(body))
    assert (issue.code, issue.expression) == ("invariant", "Claim.item[2].net")
    assert "1.5 × 2.10 = 3.15" in issue.diagnostics


async def test_no_charge_and_fractions_of_a_cent_and_other_currencies_are_refused():
    body = _without_total(contained())
    del item(body, 2)["unitPrice"]
    item(body, 1)["net"] = {"value": Decimal("28.505"), "currency": "USD"}
    item(body, 0)["net"]["currency"] = "EUR"
    issues = await refusal_of(body)
    assert expressions(issues) == {"Claim.item[2].net", "Claim.item[1].net", "Claim.item[0].net.currency"}


async def test_fractional_units_are_kept_and_too_many_decimals_refused():
    body = _without_total(contained())
    item(body, 2)["quantity"] = {"value": Decimal("0.25")}
    item(body, 2)["unitPrice"] = {"value": Decimal("4.00")}
    assert (await encounter_of(body)).lines[2].units == Decimal("0.25")
    item(body, 2)["quantity"] = {"value": Decimal("0.1255")}
    [issue] = await refusal_of(body)
    assert issue.expression == "Claim.item[2].quantity" and "3 decimal places" in issue.diagnostics


async def test_partial_dates_are_valid_fhir_but_name_no_day():
    body = contained()
    body["contained"][0]["birthDate"] = "1968"
    item(body, 1)["servicedDate"] = SERVED.isoformat()[:7]
    issues = await refusal_of(body)
    assert expressions(issues) == {"Claim.patient.resolve().birthDate", "Claim.item[1].servicedDate"}
    assert all("partial date" in issue.diagnostics for issue in issues)


async def test_a_serviced_period_and_the_billable_period_give_dates_of_service():
    body = contained()
    del item(body, 0)["servicedDate"]
    item(body, 0)["servicedPeriod"] = {"start": f"{SERVED - timedelta(days=1)}T23:30:00-05:00",
                                       "end": f"{SERVED}T01:00:00-05:00"}
    del item(body, 1)["servicedDate"]
    body["billablePeriod"] = {"start": SERVED.isoformat()}
    encounter = await encounter_of(body)
    assert (encounter.lines[0].service_date, encounter.lines[0].service_date_to) == (SERVED - timedelta(days=1), SERVED)
    assert (encounter.lines[1].service_date, encounter.lines[1].service_date_to) == (SERVED, None)


async def test_codings_are_chosen_by_system_not_by_position():
    body = contained()
    item(body, 0)["productOrService"]["coding"] = [{"system": "https://ehr.example.org/cm", "code": "X1"}]
    item(body, 1)["productOrService"]["coding"].append({"system": "urn:oid:2.16.840.1.113883.6.285", "code": "G0009"})
    body["diagnosis"][0]["diagnosisCodeableConcept"]["coding"] = [{"code": "E11.9"}]  # no system
    item(body, 0)["locationCodeableConcept"]["coding"] = [{"system": "urn:oid:2.16.840.1.113883.6.50", "code": "22"}]
    issues = {issue.expression: issue for issue in await refusal_of(body)}
    assert set(issues) == {"Claim.item[0].productOrService", "Claim.item[1].productOrService",
                           "Claim.diagnosis[0].diagnosisCodeableConcept"}
    assert issues["Claim.item[0].productOrService"].code == "code-invalid"
    assert issues["Claim.item[1].productOrService"].code == "multiple-matches"  # CPT 96372 and HCPCS G0009
    assert "found (no system)|E11.9" in issues["Claim.diagnosis[0].diagnosisCodeableConcept"].diagnostics


async def test_a_condition_referenced_as_the_diagnosis_is_read():
    body = contained()
    body["contained"].append({"resourceType": "Condition", "id": "dx", "subject": {"reference": "#patient"},
                              "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E78.5"}]}})
    body["diagnosis"][1] = {"sequence": 2, "diagnosisReference": {"reference": "#dx"}}
    assert (await encounter_of(body)).diagnosis_codes == ["E119", "E785"]


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("element", "value", "expression", "code"), [
    ("use", "preauthorization", "Claim.use", "not-supported"),
    ("status", "draft", "Claim.status", "not-supported"),
    ("status", "bogus", "Claim.status", "code-invalid"),
    ("type", {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "pharmacy"}]},
     "Claim.type", "not-supported"),
    ("type", {"coding": [{"system": "https://ehr.example.org/claim-type", "code": "professional"}]},
     "Claim.type", "code-invalid"),
])
async def test_use_status_and_type_are_refused_by_name(element, value, expression, code):
    body = contained()
    body[element] = value
    issues = await refusal_of(body)
    assert (issues[0].expression, issues[0].code) == (expression, code)


async def test_every_problem_comes_back_at_once():
    body = contained()
    body["use"] = "predetermination"
    body["contained"][0]["birthDate"] = "1968-03"
    item(body, 1)["net"]["value"] = Decimal("0.00")
    item(body, 2)["diagnosisSequence"] = [7]
    body["contained"][3]["identifier"] = []  # the billing provider's NPI
    body["accident"] = {"date": SERVED.isoformat()}
    issues = await refusal_of(_without_total(body))
    assert expressions(issues) == {
        "Claim.use", "Claim.patient.resolve().birthDate", "Claim.item[1].net", "Claim.item[2].diagnosisSequence[0]",
        "Claim.provider.resolve().identifier", "Claim.accident"}
    assert all(issue.diagnostics for issue in issues)


async def test_an_encounter_rule_names_the_fhir_element_it_came_from():
    body = contained()
    item(body, 0)["productOrService"]["coding"][1]["code"] = "12"
    body["contained"][0]["address"][0]["state"] = "Illinois"
    issues = {issue.expression: issue.diagnostics for issue in await refusal_of(body)}
    assert set(issues) == {"Claim.item[0].productOrService", "Claim.patient.resolve().address[0].state"}
    assert "five characters" in issues["Claim.item[0].productOrService"]


async def test_unresolvable_references_are_named():
    body = contained()
    body["insurance"][0]["coverage"] = {"reference": "#missing"}
    body["provider"] = {"reference": "https://elsewhere.example.org/Organization/1"}
    body["careTeam"][0]["provider"] = {"reference": "#patient"}
    issues = {issue.expression: issue for issue in await refusal_of(body)}
    assert {"Claim.insurance[0].coverage", "Claim.provider", "Claim.careTeam[0].provider"} <= set(issues)
    assert issues["Claim.insurance[0].coverage"].code == "not-found"
    assert "a Patient" in issues["Claim.careTeam[0].provider"].diagnostics


async def test_unknown_payers_and_unregistered_parties_are_refused():
    body = contained()
    body["insurer"] = {"identifier": {"system": NAIC, "value": "00000"}}
    body["contained"][1]["identifier"][0]["value"] = "00000"
    issues = await refusal_of(body)
    assert expressions(issues) == {"Claim.insurer.identifier", "Claim.insurance[0].coverage.resolve().payor[0]"
                                                               ".resolve().identifier"}
    assert all(issue.code == "not-found" for issue in issues)
    registered = example("professional-claim-registered", served=SERVED)
    registered["patient"] = {"reference": "Patient/NOBODY"}
    registered["careTeam"][0]["provider"] = {"reference": f"Practitioner/{BILLING_NPI}"}  # registered for billing
    issues = {issue.expression: issue for issue in await refusal_of(registered)}
    assert issues["Claim.patient"].code == "not-found"
    assert "not registered for the rendering role" in issues["Claim.careTeam[0].provider"].diagnostics


async def test_insurer_and_payor_naming_different_payers_conflict():
    body = contained()
    body["insurer"] = {"identifier": {"system": NAIC, "value": "11111"}}
    [issue] = await refusal_of(body)
    assert (issue.code, issue.expression) == ("conflict", "Claim.insurance[0].coverage.resolve().payor[0]")


async def test_a_later_payer_cannot_be_billed_first():
    body = contained()
    body["insurance"][0]["focal"] = False
    body["insurance"].append({"sequence": 2, "focal": True, "coverage": {"reference": "#coverage"}})
    [issue] = await refusal_of(body)
    assert issue.expression == "Claim.insurance[1].focal" and issue.code == "not-supported"


async def test_institutional_claims_need_their_type_of_bill_and_agree_with_their_subtype():
    body = example("institutional-outpatient-transaction", served=SERVED)
    claim = body["entry"][0]["resource"]
    del claim["supportingInfo"][0]
    assert [(i.code, i.expression) for i in await refusal_of(body)] == [
        ("required", "Bundle.entry[0].resource.supportingInfo")]
    body = example("institutional-outpatient-transaction", served=SERVED)
    body["entry"][0]["resource"]["subType"]["coding"][0]["code"] = "inpatient"
    [issue] = await refusal_of(body)
    assert issue.expression == "Bundle.entry[0].resource.subType" and "0131" in issue.diagnostics


async def test_roles_the_837_does_not_carry_are_refused():
    body = contained()
    body["careTeam"][0]["role"]["coding"][0]["code"] = "operating"
    item(body, 0)["detail"] = [{"sequence": 1, "productOrService": {"coding": [{"system": CPT, "code": "99214"}]}}]
    issues = {issue.expression: issue.code for issue in await refusal_of(body)}
    assert issues == {"Claim.careTeam[0].role": "not-supported", "Claim.item[0].detail": "not-supported"}


async def test_not_valid_fhir_is_refused_with_the_elements_at_fault_never_a_crash():
    body = contained()
    body["contained"].append({"resourceType": "Bogus", "id": "x"})
    issues = await refusal_of(body)
    assert [(i.code, i.expression) for i in issues] == [("structure", "Claim.contained[5].resourceType")]
    body = contained()
    item(body, 1)["sequence"] = "two"
    body["unknownElement"] = 1
    del body["created"]
    assert expressions(await refusal_of(body)) == {"Claim.item[1].sequence", "Claim.unknownElement", "Claim.created"}
    # Found by fuzzing: a resource of no type nested deeper (fhir.resources raised a KeyError), and
    # a supportingInfo whose category is null (the reader met None).
    body = contained()
    body["contained"][0]["contained"] = [{"resourceType": "Bogus"}]
    assert expressions(await refusal_of(body)) == {"Claim.contained[0].contained[0].resourceType"}
    institutional = example("institutional-outpatient-transaction", served=SERVED)
    institutional["entry"][0]["resource"]["supportingInfo"][2]["category"] = None
    assert [(i.code, i.expression) for i in await refusal_of(institutional)] == [
        ("required", "Bundle.entry[0].resource.supportingInfo[2].category")]


async def test_what_is_read_but_not_sent_is_noted():
    body = contained()
    body["diagnosis"][0]["onAdmission"] = {"coding": [{"code": "Y"}]}
    body["procedure"] = [{"sequence": 1, "procedureCodeableConcept": {"coding": [{"code": "0DTJ4ZZ"}]}}]
    reading = await reading_of(body)
    assert reading.issues == []
    assert [note.split(":")[0] for note in reading.notes] == ["Claim.diagnosis[0].onAdmission", "Claim.procedure"]


async def test_a_registered_coverage_must_be_with_the_insurer_named():
    registry = PracticeRegistry()
    registry.coverages[("REG-PAT-1", "primary")]["payer_id"] = "BSI01"
    [issue] = await refusal_of(example("professional-claim-registered", served=SERVED), registry)
    assert (issue.code, issue.expression) == ("conflict", "Claim.insurer")


async def test_a_collection_bundle_needs_no_requests_and_other_bundles_are_refused():
    body = example("professional-batch-restful", served=SERVED)
    body["type"] = "collection"
    for entry in body["entry"]:
        del entry["request"]
    assert (await encounter_of(body)).coverage.payer_id == "60054"
    body["type"] = "document"
    [issue] = await refusal_of(body)
    assert (issue.code, issue.expression) == ("not-supported", "Bundle.type")
    batch = example("professional-batch-restful", served=SERVED)
    del batch["entry"][1]["request"]
    batch["entry"][0]["request"]["method"] = "PUT"
    bundle = parse_bundle(batch)
    assert [(e.index, [i.expression for i in e.issues]) for e in bundle.entries if e.issues] == [
        (0, ["Bundle.entry[0].request"]), (1, ["Bundle.entry[1].request"])]
    # The Claim's patient is that invalid entry: named, not looked up elsewhere.
    assert bundle.resolver.invalid["https://ehr.example.org/fhir/Patient/p-1001"] == "Bundle.entry[1]"


def test_a_bundle_entry_of_a_type_not_taken_is_refused_alone_naming_its_type():
    """An EHR's Bundle may carry the visit's other resources (Synthea's carry Encounters and
    Observations): in a batch each such entry is refused on its own; the Claim's entries are not."""
    batch = example("professional-batch-restful", served=SERVED)
    batch["entry"].append({"fullUrl": "urn:uuid:visit-1", "request": {"method": "POST", "url": "Encounter"},
                           "resource": {"resourceType": "Encounter", "status": "finished",
                                        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                                  "code": "AMB"}}})
    bundle = parse_bundle(batch)
    refused = [(e.index, [(i.code, i.expression, i.diagnostics) for i in e.issues]) for e in bundle.entries if e.issues]
    assert refused == [(len(batch["entry"]) - 1, [(
        "not-supported", f"Bundle.entry[{len(batch['entry']) - 1}].resource",
        "Encounter resources are not taken here (Claims and the parties they reference are)")])]


async def test_resources_of_no_fhir_type_are_refused_by_path_wherever_they_are():
    body = contained()
    body["contained"][1]["resourceType"] = "Insurer"
    body["item"][0]["extension"] = [{"url": "x", "valueReference": {"resourceType": "Nonesuch"}}]
    assert expressions(await refusal_of(body)) == {"Claim.contained[1].resourceType",
                                                   "Claim.item[0].extension[0].valueReference.resourceType"}


async def test_a_claim_without_items_but_with_a_total_is_refused_not_a_crash():
    body = contained()
    del body["item"]  # the total (181.65) then sums no charges: it was an AttributeError (a 500)
    issues = await refusal_of(body)
    assert {"Claim.item", "Claim.total"} <= expressions(issues)


async def test_an_item_whose_product_or_service_is_null_is_refused_not_a_crash():
    body = example("institutional-outpatient-transaction", served=SERVED)
    item(body)["productOrService"] = None  # fhir.resources lets an explicit null through; it was a 500
    issues = await refusal_of(body)
    assert "Bundle.entry[0].resource.item[0].productOrService" in expressions(issues)
