"""Stored claims to 837 files: professional with a supervising provider and facility,
institutional (837I), and a secondary claim carrying the primary payer's adjudication, built the
way the claims service builds them, each pyx12-clean. Synthetic data only."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from uuid import uuid4

from openrcm_claims.adapters.x12_claims import build_claim
from openrcm_claims.entrypoints.schemas import EncounterIn
from openrcm_claims.service_layer.coordination_of_benefits import (
    adjudication_record, forwarded_by_payer, next_coverage,
)
from openrcm_shared.contracts.remittance import Adjustment, ClaimPaymentPosted, Crossover, PostedLine
from openrcm_shared.x12 import claim_837 as x12
from services.claims.tests.unit.claim_rows import NAMES, claim_row, render
from tests.support import RENDERING_NPI, encounter
from tests.x12_validation import pyx12_errors

SERVED = date.today() - timedelta(days=5)
FACILITY = {"name": "Synthetic Annex", "address": {"line1": "5 Side Street", "city": "Springfield", "state": "IL",
                                                   "postal_code": "627015555"}}


def assert_clean(text: str) -> None:
    errors = pyx12_errors(text)
    assert errors == [], "\n".join(map(str, errors)) + "\n" + text.replace("~", "~\n")


def segments(text: str) -> list[list[str]]:
    return [segment.split("*") for segment in text.split("~") if segment]


def test_a_professional_claim_with_supervising_provider_and_facility_is_pyx12_clean():
    body = encounter()
    body["supervising_provider"] = {"npi": RENDERING_NPI, "first_name": "Sue", "last_name": "Pervisor"}
    body["service_facility"] = FACILITY
    body["lines"][0]["service_date_to"] = body["lines"][0]["service_date"]
    text = render(claim_row(body))
    assert_clean(text)
    parsed = segments(text)
    assert ["NM1", "DQ", "1", "Pervisor", "Sue", "", "", "", "XX", RENDERING_NPI] in parsed
    assert ["NM1", "77", "2", "Synthetic Annex"] in parsed


def test_the_837_is_the_same_from_the_stored_document_as_json_text():
    """The batcher reads the encounter document as JSON text (one pass through pydantic); the
    837 must not differ from one built from the decoded document."""
    for body in (encounter(), institutional_body()):
        claim, lines = claim_row(body)
        as_text = SimpleNamespace(**{**vars(claim), "encounter_document": json.dumps(claim.encounter_document)})
        assert build_claim(as_text, lines, NAMES) == build_claim(claim, lines, NAMES)


def institutional_body(**details) -> dict:
    body = encounter()
    body.update(setting="institutional", attending_provider=body.pop("rendering_provider"),
                institutional={"type_of_bill": "0111", "patient_status": "01", "admission_date": SERVED.isoformat(),
                               "admission_hour": 22, "admission_type": "1", "admission_source": "7",
                               "discharge_hour": 11, "admitting_diagnosis": "R07.9", **details},
                diagnosis_codes=["J18.9", "E11.9", "I10"],
                lines=[{"revenue_code": "0120", "units": 3, "unit_basis": "DA", "charge_amount": "4500.00",
                        "service_date": SERVED.isoformat(), "service_date_to": SERVED.isoformat()},
                       {"revenue_code": "0300", "procedure_code": "80053", "charge_amount": "95.00",
                        "service_date": SERVED.isoformat()}])
    return body


def test_an_inpatient_837i_from_an_institutional_encounter_is_pyx12_clean():
    text = render(claim_row(institutional_body()))
    assert_clean(text)
    parsed = segments(text)
    assert next(s for s in parsed if s[0] == "GS")[8] == "005010X223A2"
    clm = next(s for s in parsed if s[0] == "CLM")
    assert clm[5] == "11:A:1" and clm[2] == "4595"
    assert ["DTP", "096", "TM", "1100"] in parsed
    assert ["DTP", "435", "DT", f"{SERVED:%Y%m%d}2200"] in parsed
    assert ["CL1", "1", "7", "01"] in parsed
    assert ["HI", "ABK:J189"] in parsed and ["HI", "ABJ:R079"] in parsed and ["HI", "ABF:E119", "ABF:I10"] in parsed
    assert ["SV2", "0120", "", "4500", "DA", "3"] in parsed and ["SV2", "0300", "HC:80053", "95", "UN", "1"] in parsed


def test_an_institutional_replacement_sends_frequency_7_in_the_type_of_bill():
    claim, lines = claim_row(institutional_body(), frequency="7")
    claim.payer_claim_control_number = "PCCN-77"
    text = render((claim, lines))
    assert_clean(text)
    assert next(s for s in segments(text) if s[0] == "CLM")[5] == "11:A:7" and ["REF", "F8", "PCCN-77"] in segments(text)


def primary_decision(claim, *, status_code: str | None = "1", crossover: Crossover | None = None) -> ClaimPaymentPosted:
    """The primary's decision on the two-line test claim, balanced by hand:
    line 1 125.00 - CO-45 25.00 - PR-2 20.00 = 80.00; line 2 15.50 - PR-1 15.50 = 0.00;
    paid 80.00, patient responsibility 35.50."""
    return ClaimPaymentPosted(
        tenant_id="practice-1", claim_id=claim.id, remittance_id=uuid4(), patient_id="PAT-1", payer_id="60054",
        patient_control_number=claim.patient_control_number, outcome="paid", charge_amount=Decimal("140.50"),
        allowed_amount=Decimal("115.50"), paid_amount=Decimal("80.00"),
        patient_responsibility_amount=Decimal("35.50"), claim_status_code=status_code, crossover=crossover,
        adjustments=[Adjustment(line_number=1, group_code="CO", carc="45", amount=Decimal("25.00")),
                     Adjustment(line_number=1, group_code="PR", carc="2", amount=Decimal("20.00")),
                     Adjustment(line_number=2, group_code="PR", carc="1", amount=Decimal("15.50"))],
        lines=[PostedLine(line_number=1, charge_amount=Decimal("125.00"), allowed_amount=Decimal("100.00"),
                          paid_amount=Decimal("80.00"), patient_responsibility_amount=Decimal("20.00")),
               PostedLine(line_number=2, charge_amount=Decimal("15.50"), allowed_amount=Decimal("15.50"),
                          paid_amount=Decimal("0.00"), patient_responsibility_amount=Decimal("15.50"))])


def with_secondary(body: dict) -> dict:
    body["other_coverages"] = [{"payer_id": "BSI01", "member_id": "BSI-77-1234", "payer_responsibility": "S"},
                               {"payer_id": "TRI01", "member_id": "TRI-1", "payer_responsibility": "T"}]
    return body


def secondary_row(primary, record: dict):
    """The secondary claim the service builds from the primary: coverage S billed, P and T as others."""
    parsed = EncounterIn.model_validate(primary.encounter_document)
    following = next_coverage(parsed, "P")
    assert following.payer_id == "BSI01"
    others = [parsed.coverage, *[c for c in parsed.other_coverages if c is not following]]
    document = parsed.model_copy(update={"coverage": following, "other_coverages": others})
    return claim_row(document.model_dump(mode="json"), pcn="RTESTPCN0000000002", payer_id="BSI01",
                     responsibility="S", prior=[record])


def test_the_secondary_claim_carries_the_primary_adjudication_in_2320_and_2430():
    body = with_secondary(encounter())
    primary, _ = claim_row(body)
    decision = primary_decision(primary)
    record = adjudication_record(primary, decision, date(2026, 11, 20))
    assert record["lines"][0] == {"line_number": 1, "paid_amount": "80.00", "adjustments": [
        {"group_code": "CO", "carc": "45", "amount": "25.00"}, {"group_code": "PR", "carc": "2", "amount": "20.00"}]}
    assert record["claim_adjustments"] == [] and record["patient_responsibility_amount"] == "35.50"

    secondary = secondary_row(primary, record)
    text = render(secondary)
    assert_clean(text)
    parsed = segments(text)
    assert [s[:2] for s in parsed if s[0] == "SBR"] == [["SBR", "S"], ["SBR", "P"], ["SBR", "T"]]
    assert ["AMT", "D", "80"] in parsed and ["AMT", "EAF", "35.5"] in parsed
    assert [s for s in parsed if s[0] == "SVD"] == [["SVD", "60054", "80", "HC:99213:25", "", "1"],
                                                    ["SVD", "60054", "0", "HC:36415", "", "1"]]
    assert ["CAS", "CO", "45", "25"] in parsed and ["CAS", "PR", "2", "20"] in parsed
    assert [s for s in parsed if s[:2] == ["DTP", "573"]] == [["DTP", "573", "D8", "20261120"]] * 2
    assert next_coverage(EncounterIn.model_validate(secondary[0].encounter_document), "S").payer_id == "TRI01"


def test_a_primary_claim_names_the_other_payers_without_adjudication():
    text = render(claim_row(with_secondary(encounter())))
    assert_clean(text)
    parsed = segments(text)
    assert [s[:2] for s in parsed if s[0] == "SBR"] == [["SBR", "P"], ["SBR", "S"], ["SBR", "T"]]
    assert not [s for s in parsed if s[0] in ("AMT", "SVD")]


def test_crossovers_are_recognised_by_status_code_or_crossover_payer():
    claim, _ = claim_row(encounter())
    assert not forwarded_by_payer(primary_decision(claim))
    assert forwarded_by_payer(primary_decision(claim, status_code="19"))
    assert forwarded_by_payer(primary_decision(claim, crossover=Crossover(payer_name="MEDIGAP SAMPLE")))


def test_an_unbalanced_prior_adjudication_cannot_go_out():
    body = with_secondary(encounter())
    primary, _ = claim_row(body)
    record = adjudication_record(primary, primary_decision(primary), date(2026, 11, 20))
    record["paid_amount"] = "80.01"
    try:
        render(secondary_row(primary, record))
    except x12.X12ContentError as refused:
        assert "does not balance" in str(refused)
    else:
        raise AssertionError("an unbalanced AMT*D was rendered")


def test_adjudication_dates_come_from_the_decision():
    claim, _ = claim_row(encounter())
    decided = datetime(2026, 11, 20, 23, 30, tzinfo=timezone.utc)
    assert adjudication_record(claim, primary_decision(claim), decided.date())["adjudication_date"] == "2026-11-20"


def test_fractional_units_are_billed_as_they_are_never_truncated():
    """SV104 is an R-type quantity: 1.5 units of a timed code go out as 1.5 (they went out as 1
    when the intake took units as whole numbers), and the encounter document keeps them."""
    body = encounter()
    body["lines"][0]["units"] = 1.5
    body["lines"][1]["units"] = "0.25"
    claim, lines = claim_row(body)
    assert [line.units for line in lines] == [Decimal("1.5"), Decimal("0.25")]
    assert [line["units"] for line in claim.encounter_document["lines"]] == [1.5, 0.25]
    text = render((claim, lines))
    assert_clean(text)
    assert [s[4] for s in segments(text) if s[0] == "SV1"] == ["1.5", "0.25"]
    too_precise = encounter()
    too_precise["lines"][0]["units"] = "1.0005"
    try:
        EncounterIn.model_validate(too_precise)
    except ValueError as invalid:
        assert "3 decimal places" in str(invalid)
    else:
        raise AssertionError("four decimals of units were taken")
