"""Every rule fires on a claim made to break it, and stays quiet on the clean claim."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from openrcm_claims.domain.scrubber import ScrubEligibility
from openrcm_claims.domain.scrubber import BLOCK, WARN, ScrubPayer, ScrubProvider, list_rules


def _billing(b, **changes):
    return {"billing_provider": replace(b.BILLING, **changes)}


def _lines(b, *lines):
    return {"lines": tuple(lines)}


# (rule id, expected pointer, make(b) -> (claim, keyword arguments for run))
CASES = [
    ("CLAIM.TYPE", "/claim_type", lambda b: (b.claim(claim_type="dental"), {})),
    ("IG.PATIENT_CONTROL_NUMBER", "/patient_control_number", lambda b: (b.claim(patient_control_number=""), {})),
    ("IG.PATIENT_CONTROL_NUMBER", "/patient_control_number", lambda b: (b.claim(patient_control_number="R" * 39), {})),
    ("CLAIM.PCN_LENGTH", "/patient_control_number", lambda b: (b.claim(patient_control_number="R" * 25), {})),
    ("IG.SUBSCRIBER_MEMBER_ID_REQUIRED", "/subscriber_member_id", lambda b: (b.claim(subscriber_member_id=None), {})),
    ("IG.SUBSCRIBER_NAME_REQUIRED", "/subscriber_last_name", lambda b: (b.claim(subscriber_last_name="  "), {})),
    ("IG.SUBSCRIBER_BIRTH_DATE", "/subscriber_birth_date", lambda b: (b.claim(subscriber_birth_date=None), {})),
    ("IG.PAYER_REQUIRED", "/payer", lambda b: (b.claim(payer=None), {})),
    ("IG.DIAGNOSIS_REQUIRED", "/diagnosis_codes", lambda b: (b.claim(diagnosis_codes=()), {})),
    ("IG.LINE_REQUIRED", "/lines", lambda b: (b.claim(lines=()), {})),
    ("LIMIT.DIAGNOSES", "/diagnosis_codes/12", lambda b: (b.claim(diagnosis_codes=(
        "E119", "I10", "E785", "J449", "M545", "K219", "F329", "G4700", "N390", "R51", "Z0000", "E669", "R0602")), {})),
    ("LIMIT.LINES", "/lines/50", lambda b: (b.claim(lines=tuple(
        b.line(n, charge_amount=Decimal("10.00"), diagnosis_pointers=(1,)) for n in range(1, 52))), {})),
    ("IG.BILLING_NPI_REQUIRED", "/billing_provider/npi", lambda b: (b.claim(**_billing(b, npi=None)), {})),
    ("IG.PROVIDER_NPI_REQUIRED", "/rendering_provider/npi",
     lambda b: (b.claim(rendering_provider=replace(b.RENDERING, npi="")), {})),
    ("NPI.CHECK_DIGIT", "/billing_provider/npi", lambda b: (b.claim(**_billing(b, npi="1234567890")), {})),
    ("NPI.CHECK_DIGIT", "/referring_provider/npi", lambda b: (b.claim(referring_provider=ScrubProvider(
        npi="12345", tax_id=None, name=None, address_line1=None, city=None, state=None, postal_code=None)), {})),
    ("IG.BILLING_TIN_REQUIRED", "/billing_provider/tax_id", lambda b: (b.claim(**_billing(b, tax_id=None)), {})),
    ("TIN.FORMAT", "/billing_provider/tax_id", lambda b: (b.claim(**_billing(b, tax_id="12-3456789")), {})),
    ("IG.BILLING_NAME_REQUIRED", "/billing_provider/name", lambda b: (b.claim(**_billing(b, name="")), {})),
    ("IG.BILLING_ADDRESS_REQUIRED", "/billing_provider/city", lambda b: (b.claim(**_billing(b, city=None)), {})),
    ("IG.BILLING_ADDRESS_PO_BOX", "/billing_provider/address_line1",
     lambda b: (b.claim(**_billing(b, address_line1="PO Box 4410")), {})),
    ("IG.BILLING_ZIP_PLUS4", "/billing_provider/postal_code", lambda b: (b.claim(**_billing(b, postal_code="62701")), {})),
    ("ICD10.FORMAT", "/diagnosis_codes/0", lambda b: (b.claim(diagnosis_codes=("E11.9", "I10")), {})),
    ("ICD10.NOT_BILLABLE", "/diagnosis_codes/0", lambda b: (b.claim(diagnosis_codes=("E11", "I10")), {})),
    ("ICD10.NOT_VALID_ON_DOS", "/diagnosis_codes/0", lambda b: (b.claim(diagnosis_codes=("Q0000", "I10")), {})),
    ("ICD10.UNVERIFIED", "/diagnosis_codes/1", lambda b: (
        b.on(date(2024, 6, 3), diagnosis_codes=("E119", "V999XXA")), {"today": date(2024, 7, 1)})),
    ("ICD10.CODE_SET_UNAVAILABLE", "/diagnosis_codes", lambda b: (b.on(date(2026, 10, 15)), {"today": date(2026, 11, 27)})),
    ("DX.DUPLICATE", "/diagnosis_codes/2", lambda b: (b.claim(diagnosis_codes=("E119", "I10", "E119")), {})),
    ("PROC.FORMAT", "/lines/0/procedure_code", lambda b: (b.claim(lines=(b.line(procedure_code="9921"),)), {})),
    ("HCPCS.NOT_VALID", "/lines/0/procedure_code", lambda b: (b.claim(lines=(b.line(procedure_code="G2012"),)), {})),
    ("MOD.FORMAT", "/lines/0/modifiers/1", lambda b: (b.claim(lines=(b.line(modifiers=("25", "2-")),)), {})),
    ("MOD.UNKNOWN", "/lines/0/modifiers/0", lambda b: (b.claim(lines=(b.line(modifiers=("ZZ",)),)), {})),
    ("MOD.DUPLICATE", "/lines/0/modifiers/1", lambda b: (b.claim(lines=(b.line(modifiers=("25", "25")),)), {})),
    ("LIMIT.MODIFIERS", "/lines/0/modifiers/4",
     lambda b: (b.claim(lines=(b.line(modifiers=("25", "59", "GA", "KX", "GY")),)), {})),
    ("POS.REQUIRED", "/place_of_service", lambda b: (b.claim(place_of_service=None), {})),
    ("POS.INVALID", "/lines/0/place_of_service", lambda b: (b.claim(lines=(b.line(place_of_service="29"),)), {})),
    ("POS.INVALID", "/place_of_service", lambda b: (b.claim(place_of_service="1A"), {})),
    ("POS.NOT_YET_EFFECTIVE", "/place_of_service", lambda b: (
        b.on(date(2021, 6, 1), place_of_service="10"), {"today": date(2021, 7, 1)})),
    ("UNITS.POSITIVE", "/lines/0/units", lambda b: (b.claim(lines=(b.line(units=Decimal(0)),)), {})),
    ("CHARGE.POSITIVE", "/lines/0/charge_amount", lambda b: (b.claim(lines=(b.line(charge_amount=Decimal("0.00")),)), {})),
    ("CLAIM.TOTAL_CHARGE", "/total_charge", lambda b: (b.claim(total_charge=Decimal("175.01")), {})),
    ("DATE.FUTURE", "/lines/0/service_date", lambda b: (b.claim(lines=(b.line(service_date=date(2026, 6, 16)),)), {})),
    ("DATE.FUTURE", "/lines/0/service_date_to", lambda b: (b.claim(lines=(b.line(service_date_to=date(2026, 6, 20)),)), {})),
    ("DATE.RANGE", "/lines/0/service_date_to", lambda b: (b.claim(lines=(b.line(service_date_to=date(2026, 5, 30)),)), {})),
    ("POINTER.REQUIRED", "/lines/0/diagnosis_pointers", lambda b: (b.claim(lines=(b.line(diagnosis_pointers=()),)), {})),
    ("POINTER.RANGE", "/lines/0/diagnosis_pointers/1", lambda b: (b.claim(lines=(b.line(diagnosis_pointers=(1, 3)),)), {})),
    ("POINTER.DISTINCT", "/lines/0/diagnosis_pointers/1", lambda b: (b.claim(lines=(b.line(diagnosis_pointers=(2, 2)),)), {})),
    ("LIMIT.POINTERS", "/lines/0/diagnosis_pointers/4", lambda b: (b.claim(
        diagnosis_codes=("E119", "I10", "E785", "J449", "M545"), lines=(b.line(diagnosis_pointers=(1, 2, 3, 4, 5)),)), {})),
    ("NCCI.PTP", "/lines/1/procedure_code", lambda b: (b.claim(lines=(
        b.line(1, procedure_code="20610", charge_amount=Decimal("90.00")), b.line(2, procedure_code="99213"))), {})),
    ("MUE.UNITS", "/lines/0/units", lambda b: (b.claim(lines=(b.line(units=Decimal(2)),)), {})),
    ("PAYER.CLAIM_TYPE", "/claim_type", lambda b: (
        b.claim(payer=replace(b.PAYER, claim_types=frozenset({"institutional"}))), {})),
    ("TIMELY.FILING_LIMIT", "/lines/0/service_date", lambda b: (
        b.on(date(2025, 6, 14)), {"today": date(2026, 6, 15)})),
    ("TIMELY.FILING_SOON", "/lines/0/service_date", lambda b: (
        b.on(date(2025, 6, 24)), {"today": date(2026, 6, 15)})),
    ("ENROLL.NOT_ENROLLED", "/rendering_provider/npi", lambda b: (
        b.claim(), {"enrollments": b.Registry(missing={("1245319599", "60054")})})),
    ("IG.PROVIDER_NPI_REQUIRED", "/supervising_provider/npi",
     lambda b: (b.claim(supervising_provider=replace(b.RENDERING, npi=None)), {})),
    ("NPI.CHECK_DIGIT", "/attending_provider/npi",
     lambda b: (b.institutional(attending_provider=replace(b.RENDERING, npi="1333333330")), {})),
    ("IG.FACILITY_ADDRESS", "/service_facility/postal_code", lambda b: (b.claim(service_facility=ScrubProvider(
        npi=None, tax_id=None, name="Synthetic Annex", address_line1="5 Side Street", city="Springfield", state="IL",
        postal_code="62701")), {})),
    ("IG.FACILITY_ADDRESS", "/service_facility/address_line1", lambda b: (b.claim(service_facility=ScrubProvider(
        npi=None, tax_id=None, name="Synthetic Annex", address_line1="PO Box 12", city="Springfield", state="IL",
        postal_code="627011234")), {})),
    ("INST.TYPE_OF_BILL", "/institutional/type_of_bill", lambda b: (b.institutional(details=None), {})),
    ("INST.TYPE_OF_BILL", "/institutional/type_of_bill",
     lambda b: (b.institutional(replace(b.OUTPATIENT, type_of_bill="531")), {})),
    ("INST.REVENUE_CODE", "/lines/1/revenue_code", lambda b: (b.institutional(lines=(
        b.line(1, revenue_code="0450", diagnosis_pointers=()), b.line(2, revenue_code=None, diagnosis_pointers=()))),
        {})),
    ("INST.REVENUE_CODE", "/lines/0/revenue_code", lambda b: (b.institutional(lines=(
        b.line(1, revenue_code="0001", diagnosis_pointers=()),)), {})),
    ("INST.ADMISSION_REQUIRED", "/institutional/admission_date",
     lambda b: (b.institutional(replace(b.OUTPATIENT, type_of_bill="111", admission_type="1")), {})),
    ("INST.ADMISSION_REQUIRED", "/institutional/admission_type",
     lambda b: (b.institutional(replace(b.OUTPATIENT, type_of_bill="181", admission_date=b.DOS)), {})),
    ("INST.PATIENT_STATUS", "/institutional/patient_status",
     lambda b: (b.institutional(replace(b.OUTPATIENT, patient_status="08")), {})),
    ("INST.ATTENDING_REQUIRED", "/attending_provider", lambda b: (b.institutional(attending_provider=None), {})),
    ("INST.STATEMENT_PERIOD", "/lines/0/service_date", lambda b: (
        b.institutional(replace(b.OUTPATIENT, statement_from=date(2026, 6, 2), statement_to=date(2026, 6, 3))), {})),
    ("INST.OUTPATIENT_HCPCS", "/lines/1/procedure_code", lambda b: (b.institutional(lines=(
        b.line(1, revenue_code="0450", diagnosis_pointers=()),
        b.line(2, procedure_code="", revenue_code="0250", charge_amount=Decimal("12.00"), diagnosis_pointers=()))),
        {})),
    ("ELIG.COVERAGE_INACTIVE", "/lines/0/service_date", lambda b: (b.claim(eligibility=(
        ScrubEligibility(b.DOS, "inactive", "check-1"),)), {})),
    ("ELIG.PRIOR_AUTHORIZATION", "/lines/0", lambda b: (b.claim(eligibility=(
        ScrubEligibility(b.DOS, "active", "check-1", ("1",)),)), {})),
    ("COB.PRIOR_PAYER_BALANCE", "/prior_payer_adjudications/0", lambda b: (b.secondary(paid="80.01"), {})),
    ("COB.PRIOR_PAYER_BALANCE", "/lines/0", lambda b: (b.secondary(lines=(
        b.line(1, charge_amount=Decimal("125.00")), b.line(2, procedure_code="36415", charge_amount=Decimal("15.00"),
                                                           diagnosis_pointers=(1,)),
        b.line(3, procedure_code="93000", charge_amount=Decimal("40.00"), diagnosis_pointers=(2,)))), {})),
]


def test_the_clean_claim_has_no_hits(run, b):
    result = run(b.claim())
    assert result.hits == ()
    assert not result.blocked


def test_the_clean_institutional_and_secondary_claims_have_no_hits(run, b):
    assert run(b.institutional()).hits == ()
    assert run(b.secondary()).hits == ()


def test_an_inpatient_claim_with_its_admission_scrubs_clean(run, b):
    inpatient = replace(b.OUTPATIENT, type_of_bill="111", admission_date=b.DOS, admission_type="1",
                        admission_source="7")
    subject = b.institutional(inpatient, lines=(b.line(1, procedure_code="", revenue_code="0120",
                                                       charge_amount=Decimal("1500.00"), diagnosis_pointers=()),))
    assert run(subject).hits == ()


@pytest.mark.parametrize("rule_id", [info.id for info in list_rules()])
def test_each_rule_stays_quiet_on_the_clean_claim(run, b, rule_id):
    assert rule_id not in b.ids(run(b.claim()))


@pytest.mark.parametrize("rule_id,pointer,make", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_each_rule_fires(run, b, rule_id, pointer, make):
    subject, options = make(b)
    result = run(subject, **options)
    found = b.hits(result, rule_id)
    assert found, f"{rule_id} did not fire: {result.hits}"
    assert pointer in [hit.pointer for hit in found]
    severity = {info.id: info.severity for info in list_rules()}[rule_id]
    assert all(hit.severity == severity for hit in found)
    assert result.blocked == any(hit.severity == BLOCK for hit in result.hits)


def test_every_rule_has_a_firing_case():
    assert {info.id for info in list_rules()} <= {case[0] for case in CASES}


@pytest.mark.parametrize("rule_id,pointer,make", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_messages_carry_no_phi(run, b, rule_id, pointer, make):
    subject, options = make(b)
    for hit in run(subject, **options).hits:
        for secret in (b.MEMBER_ID, b.LAST_NAME, b.BIRTH_DATE.isoformat(), "1958", subject.patient_control_number or "\0"):
            assert secret not in hit.message, (hit, secret)
        for item in subject.lines:
            assert item.service_date.isoformat() not in hit.message
        assert hit.pointer.startswith("/") and "\n" not in hit.message


def test_warnings_alone_do_not_block(run, b):
    result = run(b.claim(subscriber_birth_date=None))
    assert [hit.severity for hit in result.hits] == [WARN]
    assert not result.blocked


# -- providers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("street", ["PO Box 4410", "P.O. BOX 12", "p o box 7", "Post Office Box 5", "POB 99",
                                    "Lock Box 771", "Lockbox 20", "BOX 12", "PMB 4, PO BOX 9"])
def test_po_boxes_are_refused(run, b, street):
    assert "IG.BILLING_ADDRESS_PO_BOX" in b.ids(run(b.claim(**_billing(b, address_line1=street))))


@pytest.mark.parametrize("street", ["100 Boxwood Lane", "1 Post Office Square", "12 Pobeda Street", "7 Boxer Road",
                                    "400 Pocono Blvd"])
def test_street_addresses_are_not_po_boxes(run, b, street):
    assert "IG.BILLING_ADDRESS_PO_BOX" not in b.ids(run(b.claim(**_billing(b, address_line1=street))))


def test_zip_plus_four_may_have_a_dash(run, b):
    assert b.ids(run(b.claim(**_billing(b, postal_code="62701-1234")))) == []


def test_every_provider_npi_is_checked(run, b):
    bad = "1245319590"
    result = run(b.claim(rendering_provider=replace(b.RENDERING, npi=bad),
                         referring_provider=replace(b.RENDERING, npi="1245319599")))
    assert [hit.pointer for hit in b.hits(result, "NPI.CHECK_DIGIT")] == ["/rendering_provider/npi"]


# -- lines, pointers and limits ----------------------------------------------------------------

def test_fifty_lines_and_twelve_diagnoses_are_allowed(run, b):
    codes = ("E119", "I10", "E785", "J449", "M545", "K219", "F329", "G4700", "N390", "R51", "Z0000", "E669")
    lines = tuple(b.line(n, charge_amount=Decimal("10.00"), diagnosis_pointers=(1, 2, 3, 4)) for n in range(1, 51))
    result = run(b.claim(diagnosis_codes=codes, lines=lines))
    assert not {"LIMIT.LINES", "LIMIT.DIAGNOSES", "LIMIT.POINTERS"} & set(b.ids(result))


def test_institutional_claims_take_more_lines_and_no_pointers(run, b):
    lines = tuple(b.line(n, charge_amount=Decimal("10.00"), diagnosis_pointers=()) for n in range(1, 61))
    result = run(b.claim(claim_type="institutional", place_of_service=None, lines=lines))
    assert not {"LIMIT.LINES", "POINTER.REQUIRED", "POS.REQUIRED"} & set(b.ids(result))


def test_pointers_to_two_copies_of_the_same_code_are_not_distinct(run, b):
    result = run(b.claim(diagnosis_codes=("E119", "I10", "E119"), lines=(b.line(diagnosis_pointers=(1, 3)),)))
    assert [hit.pointer for hit in b.hits(result, "POINTER.DISTINCT")] == ["/lines/0/diagnosis_pointers/1"]


def test_line_place_of_service_overrides_a_missing_claim_one(run, b):
    result = run(b.claim(place_of_service=None, lines=(b.line(place_of_service="11"),)))
    assert "POS.REQUIRED" not in b.ids(result)


def test_total_charge_compares_decimals_exactly(run, b):
    lines = (b.line(charge_amount=Decimal("0.10")), b.line(2, charge_amount=Decimal("0.20")))
    assert "CLAIM.TOTAL_CHARGE" not in b.ids(run(b.claim(lines=lines, total_charge=Decimal("0.30"))))
    assert "CLAIM.TOTAL_CHARGE" in b.ids(run(b.claim(lines=lines, total_charge=Decimal("0.3000001"))))


def test_fractional_units_are_allowed(run, b):
    assert b.ids(run(b.claim(lines=(b.line(procedure_code="93000", units=Decimal("0.5")),)))) == []


# -- modifiers and HCPCS -----------------------------------------------------------------------

def test_a_modifier_listed_in_the_cms_hcpcs_file_is_known(run, b, shipped, code_sets):
    subject = b.claim(lines=(b.line(modifiers=("JG",)),))
    assert "MOD.UNKNOWN" in b.ids(run(subject, sets=shipped))
    assert "MOD.UNKNOWN" not in b.ids(run(subject, sets=code_sets))


@pytest.mark.parametrize("code,day,fires", [
    ("G0439", date(2026, 6, 1), False),
    ("G2012", date(2025, 12, 31), False),  # last day before termination
    ("G2012", date(2026, 1, 2), True),
    ("G0136", date(2023, 12, 31), True),  # added 2024-01-01
    ("G0136", date(2024, 1, 1), False),
    ("G9999", date(2026, 6, 1), True),   # not in the file
    ("99213", date(2026, 6, 1), False),  # CPT: format only
])
def test_hcpcs_level_ii_validity_on_the_date_of_service(run, b, code, day, fires):
    subject = b.on(day, lines=(b.line(procedure_code=code, service_date=day),), diagnosis_codes=("E119", "I10"))
    assert ("HCPCS.NOT_VALID" in b.ids(run(subject, today=day + b.days(30)))) is fires


def test_without_a_hcpcs_file_level_ii_codes_are_checked_for_format_only(run, b, shipped):
    assert b.ids(run(b.claim(lines=(b.line(procedure_code="G9999"),)), sets=shipped)) == []


# -- payer -------------------------------------------------------------------------------------

def test_timely_filing_counts_days_since_the_date_of_service(run, b):
    limit_day = b.TODAY - b.days(365)
    assert "TIMELY.FILING_LIMIT" not in b.ids(run(b.on(limit_day)))
    assert "TIMELY.FILING_LIMIT" in b.ids(run(b.on(limit_day - b.days(1))))


def test_timely_filing_uses_the_through_date_on_institutional_claims(run, b):
    start, through = b.TODAY - b.days(380), b.TODAY - b.days(360)
    lines = (b.line(service_date=start, service_date_to=through, diagnosis_pointers=()),)
    assert "TIMELY.FILING_LIMIT" not in b.ids(run(b.claim(claim_type="institutional", lines=lines)))
    assert "TIMELY.FILING_LIMIT" in b.ids(run(b.claim(lines=tuple(replace(x, diagnosis_pointers=(1,)) for x in lines))))


def test_enrollment_is_checked_on_each_date_of_service(run, b):
    registry = b.Registry(ends={(b.BILLING_NPI, b.PAYER_ID): date(2026, 6, 1)})
    lines = (b.line(), b.line(2, service_date=date(2026, 6, 2), procedure_code="93000", charge_amount=Decimal("40.00")))
    result = run(b.claim(lines=lines), enrollments=registry)
    assert [hit.pointer for hit in b.hits(result, "ENROLL.NOT_ENROLLED")] == ["/billing_provider/npi"]


def test_enrollment_is_not_asked_when_the_payer_does_not_require_it(run, b):
    registry = b.Registry(missing={(b.BILLING_NPI, b.PAYER_ID)})
    result = run(b.claim(payer=replace(b.PAYER, enrollment_required=False)), enrollments=registry)
    assert result.hits == () and registry.calls == 0


def test_a_payer_is_a_plain_value(b):
    payer = ScrubPayer("X1", "Plan", 90, False, frozenset({"professional"}))
    assert payer.timely_filing_days == 90
