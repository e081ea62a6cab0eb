"""The 837P/837I generator: every generated interchange passes pyx12 4.x with zero errors, the
arithmetic and envelope counts pyx12 does not check are right, and content that cannot be sent
is refused with an error naming the claim and field. Synthetic data only."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from openrcm_shared.codes import npi_is_valid
from openrcm_shared.x12.claim_837 import (
    Address, BillingProvider, ClaimAdjustment, ClaimBatch, InstitutionalClaim, InstitutionalServiceLine,
    LineAdjudication, Occurrence, OtherPayerCoverage, OtherSubscriber, Patient, Payer, PayToAddress,
    ProfessionalClaim, ProfessionalServiceLine, Provider, Receiver, ServiceFacility, Submitter, Subscriber,
    X12ContentError, build_837, envelope_counts, format_amount, prepare_837,
)
from tests.x12_validation import pyx12_errors

BILLING_NPI = "1234567893"
RENDERING_NPI = "1245319599"
REFERRING_NPI = "1111111112"
FACILITY_NPI = "1222222220"
ATTENDING_NPI = "1333333338"
CREATED_AT = datetime(2026, 3, 2, 14, 5)

SUBMITTER = Submitter(name="OPENRCM BILLING", identifier="OPENRCM01", contact_name="CLAIMS DESK",
                      contact_phone="3055550100", contact_email="edi@example.test")
RECEIVER = Receiver(name="EXAMPLE CLEARINGHOUSE", identifier="CLEARHOUSE01")
CLINIC = BillingProvider(
    npi=BILLING_NPI, tax_id="123456789", name="SUNRISE FAMILY MEDICINE",
    address=Address(line1="100 MAIN ST", line2="SUITE 200", city="MIAMI", state="FL", postal_code="33111-1234"),
    taxonomy_code="207Q00000X")
HOSPITAL = BillingProvider(
    npi=FACILITY_NPI, tax_id="987654321", name="BAYSIDE COMMUNITY HOSPITAL",
    address=Address(line1="1 HOSPITAL DR", city="TAMPA", state="FL", postal_code="336020001"),
    taxonomy_code="282N00000X")
PRIMARY_PAYER = Payer(name="ACME HEALTH PLAN", payer_id="60054")
SECONDARY_PAYER = Payer(name="BLUE SAMPLE INSURANCE", payer_id="BSI01")
HOME = Address(line1="12 OAK AVE", city="MIAMI", state="FL", postal_code="33101")


def subscriber(member_id: str = "W123456789", last_name: str = "DOE", first_name: str = "JANE", **changes) -> Subscriber:
    fields = dict(member_id=member_id, last_name=last_name, first_name=first_name, birth_date=date(1980, 5, 17),
                  gender="F", address=HOME, group_number="GRP1001")
    fields.update(changes)
    return Subscriber(**fields)


def line(procedure: str, charge: str, pointers=(1,), modifiers=(), control: str | None = None, **changes):
    return ProfessionalServiceLine(procedure_code=procedure, charge=Decimal(charge), service_date=date(2026, 2, 20),
                                   diagnosis_pointers=pointers, modifiers=modifiers, line_control_number=control,
                                   **changes)


def professional_claim(pcn: str = "PCN0001", lines=None, **changes) -> ProfessionalClaim:
    lines = lines or (line("99213", "125.00", control=f"{pcn}-1"), line("36415", "15.50", control=f"{pcn}-2"))
    fields = dict(
        billing_provider=CLINIC, subscriber=subscriber(), payer=PRIMARY_PAYER, patient_control_number=pcn,
        total_charge=sum((item.charge for item in lines), Decimal(0)), place_of_service="11",
        diagnosis_codes=("E11.9", "I10"), lines=tuple(lines))
    fields.update(changes)
    return ProfessionalClaim(**fields)


def institutional_claim(pcn: str = "INST0001", lines=None, **changes) -> InstitutionalClaim:
    lines = lines or (
        InstitutionalServiceLine(revenue_code="0450", procedure_code="99284", modifiers=("25",), charge=Decimal("850"),
                                 service_date=date(2026, 2, 20), line_control_number=f"{pcn}-1"),
        InstitutionalServiceLine(revenue_code="0300", procedure_code="85025", charge=Decimal("42.75"),
                                 service_date=date(2026, 2, 20), line_control_number=f"{pcn}-2"),
    )
    fields = dict(
        billing_provider=HOSPITAL, subscriber=subscriber(), payer=PRIMARY_PAYER, patient_control_number=pcn,
        total_charge=sum((item.charge for item in lines), Decimal(0)), type_of_bill="0131",
        statement_from=date(2026, 2, 20), statement_to=date(2026, 2, 20), principal_diagnosis="R07.9",
        patient_status_code="01", lines=tuple(lines), admission_type_code="1", admission_source_code="7",
        reason_for_visit=("R07.9",),
        attending_provider=Provider(npi=ATTENDING_NPI, last_name="HOUSE", first_name="GREGORY",
                                    taxonomy_code="207P00000X"))
    fields.update(changes)
    return InstitutionalClaim(**fields)


def build(*claims, icn: int = 1, groups=None, sets=None, **options) -> str:
    batch = ClaimBatch(submitter=SUBMITTER, receiver=RECEIVER, claims=tuple(claims))
    per_transaction = options.get("max_claims_per_transaction", 5000)
    group_count, set_count = envelope_counts(batch, max_claims_per_transaction=per_transaction)
    return build_837(batch, interchange_control_number=icn,
                     group_control_numbers=groups or list(range(101, 101 + group_count)),
                     transaction_set_control_numbers=sets or list(range(1, 1 + set_count)),
                     created_at=CREATED_AT, usage_indicator="T", **options)


def segments(x12: str) -> list[list[str]]:
    return [segment.strip("\n").split("*") for segment in x12.split("~") if segment.strip("\n")]


def assert_pyx12_clean(x12: str) -> None:
    errors = pyx12_errors(x12)
    assert errors == [], "\n".join(map(str, errors)) + "\n\n" + x12.replace("~", "~\n")


def assert_envelopes_consistent(x12: str) -> None:
    """SE01 = segments ST..SE, SE02 = ST02, GE01 = ST count, GE02 = GS06, IEA01 = GS count, IEA02 = ISA13."""
    parsed = segments(x12)
    isa13 = parsed[0][13]
    group_count = 0
    for position, segment in enumerate(parsed):
        if segment[0] == "ST":
            end = next(i for i in range(position, len(parsed)) if parsed[i][0] == "SE")
            assert parsed[end][1] == str(end - position + 1)
            assert parsed[end][2] == segment[2]
        elif segment[0] == "GS":
            group_count += 1
            end = next(i for i in range(position, len(parsed)) if parsed[i][0] == "GE")
            assert parsed[end][2] == segment[6]
            assert parsed[end][1] == str(sum(1 for s in parsed[position:end] if s[0] == "ST"))
    assert parsed[-1] == ["IEA", str(group_count), isa13]


def claim_totals(x12: str) -> list[tuple[str, Decimal, Decimal]]:
    """(CLM01, CLM02, sum of SV102/SV203 under it) for every claim."""
    found: list[list] = []
    for segment in segments(x12):
        if segment[0] == "CLM":
            found.append([segment[1], Decimal(segment[2]), Decimal(0)])
        elif segment[0] == "SV1":
            found[-1][2] += Decimal(segment[2])
        elif segment[0] == "SV2":
            found[-1][2] += Decimal(segment[3])
    return [tuple(item) for item in found]


def test_synthetic_npis_have_valid_check_digits():
    assert all(npi_is_valid(npi) for npi in (BILLING_NPI, RENDERING_NPI, REFERRING_NPI, FACILITY_NPI, ATTENDING_NPI))


# ----------------------------------------------------------------------------------------------
# pyx12-clean interchanges
# ----------------------------------------------------------------------------------------------


def test_professional_claim_with_modifiers_twelve_diagnoses_and_providers_is_pyx12_clean():
    diagnoses = ("E11.9", "I10", "E78.5", "J45.909", "M54.5", "K21.9", "F41.1", "N39.0", "R51.9", "Z79.4", "E66.9",
                 "G47.33")
    claim = professional_claim(
        "PCN-2026-0000000001",
        lines=(line("99214", "180.00", pointers=(1, 2, 3, 4), modifiers=("25",), control="L1"),
               line("20610", "250.50", pointers=(5,), modifiers=("RT", "59"), control="L2"),
               line("J1030", "22.05", pointers=(5, 6), modifiers=("JZ",), units=Decimal(2), control="L3"),
               line("81003", "12", pointers=(8,), modifiers=("QW", "91", "59", "XU"), place_of_service="22",
                    control="L4")),
        diagnosis_codes=diagnoses, prior_authorization="AUTH778899", referral_number="REF123",
        medical_record_number="MRN-0042",
        referring_provider=Provider(npi=REFERRING_NPI, last_name="WELBY", first_name="MARCUS"),
        rendering_provider=Provider(npi=RENDERING_NPI, last_name="KILDARE", first_name="JAMES", middle_name="R",
                                    taxonomy_code="207R00000X"),
        service_facility=ServiceFacility(name="SUNRISE ANNEX", npi=FACILITY_NPI,
                                         address=Address("300 BEACH BLVD", "MIAMI", "FL", "331395555")),
        pay_to=PayToAddress(Address(line1="PO BOX 4455", city="MIAMI", state="FL", postal_code="33102")))
    x12 = build(claim)

    assert_pyx12_clean(x12)
    assert_envelopes_consistent(x12)
    parsed = segments(x12)
    clm = next(s for s in parsed if s[0] == "CLM")
    assert clm[1] == "PCN-2026-0000000001" and len(clm[1]) <= 20
    assert clm[2] == "464.55" and clm[5] == "11:B:1"
    assert claim_totals(x12) == [("PCN-2026-0000000001", Decimal("464.55"), Decimal("464.55"))]
    hi = next(s for s in parsed if s[0] == "HI")
    assert hi[1] == "ABK:E119" and hi[2:] == ["ABF:" + code.replace(".", "") for code in diagnoses[1:]]
    sv1 = [s for s in parsed if s[0] == "SV1"]
    assert sv1[0] == ["SV1", "HC:99214:25", "180", "UN", "1", "", "", "1:2:3:4"]
    assert sv1[1][1:3] == ["HC:20610:RT:59", "250.5"]
    assert sv1[2][1:5] == ["HC:J1030:JZ", "22.05", "UN", "2"]
    assert sv1[3][1] == "HC:81003:QW:91:59:XU" and sv1[3][5] == "22"
    assert [s[2] for s in parsed if s[:2] == ["REF", "6R"]] == ["L1", "L2", "L3", "L4"]
    assert ["NM1", "DN", "1", "WELBY", "MARCUS", "", "", "", "XX", REFERRING_NPI] in parsed
    assert ["PRV", "PE", "PXC", "207R00000X"] in parsed
    assert ["REF", "G1", "AUTH778899"] in parsed
    assert parsed[0][15] == "T" and parsed[0][13] == "000000001"
    assert next(s for s in parsed if s[0] == "GS")[8] == "005010X222A1"
    # HL tree: billing provider 20 -> subscriber 22 (the patient, SBR02 = 18, no 2000C).
    assert [s for s in parsed if s[0] == "HL"] == [["HL", "1", "", "20", "1"], ["HL", "2", "1", "22", "0"]]
    assert next(s for s in parsed if s[0] == "SBR")[:3] == ["SBR", "P", "18"]


def test_outpatient_institutional_claim_0131_is_pyx12_clean():
    x12 = build(institutional_claim("OP-0131-0001"))

    assert_pyx12_clean(x12)
    assert_envelopes_consistent(x12)
    parsed = segments(x12)
    assert next(s for s in parsed if s[0] == "GS")[8] == "005010X223A2"
    clm = next(s for s in parsed if s[0] == "CLM")
    # 837I: CLM05 = facility type 13 : A (UB bill type) : frequency 1; CLM06 is not used.
    assert clm == ["CLM", "OP-0131-0001", "892.75", "", "", "13:A:1", "", "A", "Y", "Y"]
    assert ["DTP", "434", "RD8", "20260220-20260220"] in parsed
    assert ["HI", "ABK:R079"] in parsed and ["HI", "APR:R079"] in parsed
    assert ["SV2", "0450", "HC:99284:25", "850", "UN", "1"] in parsed
    assert ["NM1", "71", "1", "HOUSE", "GREGORY", "", "", "", "XX", ATTENDING_NPI] in parsed
    assert claim_totals(x12) == [("OP-0131-0001", Decimal("892.75"), Decimal("892.75"))]


def test_discharge_hour_and_supervising_provider_are_sent_in_tr3_order_and_pyx12_clean():
    inpatient = institutional_claim("IP-DISCH-1", type_of_bill="0111", admitted_at=datetime(2026, 2, 10, 22, 15),
                                    discharge_hour=time(11, 30), statement_from=date(2026, 2, 10),
                                    statement_to=date(2026, 2, 20))
    supervised = professional_claim("SUP-1", supervising_provider=Provider(
        npi=REFERRING_NPI, last_name="SUPERVISOR", first_name="SAM"))
    x12 = build(supervised, inpatient)

    assert_pyx12_clean(x12)
    parsed = segments(x12)
    # 837I 2300: DTP*096 discharge hour, then DTP*434 statement dates, then DTP*435 admission.
    assert [s[:2] for s in parsed if s[0] == "DTP" and s[1] in ("096", "434", "435")] == [
        ["DTP", "096"], ["DTP", "434"], ["DTP", "435"]]
    assert ["DTP", "096", "TM", "1130"] in parsed
    # 837P 2310D supervising provider: NM1*DQ, a person with NPI.
    assert ["NM1", "DQ", "1", "SUPERVISOR", "SAM", "", "", "", "XX", REFERRING_NPI] in parsed


def test_inpatient_institutional_claim_0111_with_admission_data_is_pyx12_clean():
    room = InstitutionalServiceLine(revenue_code="0120", charge=Decimal("4500.00"), units=Decimal(3), unit_basis="DA",
                                    line_control_number="IP-1")
    pharmacy = InstitutionalServiceLine(revenue_code="0250", charge=Decimal("310.40"), units=Decimal(12),
                                        line_control_number="IP-2")
    lab = InstitutionalServiceLine(revenue_code="0300", procedure_code="80053", charge=Decimal("95"),
                                   service_date=date(2026, 2, 11), line_control_number="IP-3")
    claim = institutional_claim(
        "IP-0111-0001", lines=(room, pharmacy, lab), type_of_bill="0111",
        statement_from=date(2026, 2, 10), statement_to=date(2026, 2, 13), admitted_at=datetime(2026, 2, 10, 22, 15),
        admission_type_code="1", admission_source_code="7", patient_status_code="01", principal_diagnosis="J18.9",
        admitting_diagnosis="R06.02", reason_for_visit=(),
        other_diagnoses=("E11.9", "I10", "N17.9", "E87.1", "D64.9", "J96.01", "I48.91", "E78.5", "K59.00", "F17.210",
                         "Z79.4", "Z87.891", "R65.20", "E86.0"),
        occurrences=(Occurrence("11", date(2026, 2, 9)),), prior_authorization="PA-IP-5566")
    x12 = build(claim)

    assert_pyx12_clean(x12)
    assert_envelopes_consistent(x12)
    parsed = segments(x12)
    assert next(s for s in parsed if s[0] == "CLM")[5] == "11:A:1"
    assert ["DTP", "434", "RD8", "20260210-20260213"] in parsed
    assert ["DTP", "435", "DT", "202602102215"] in parsed
    assert ["CL1", "1", "7", "01"] in parsed
    assert ["HI", "ABJ:R0602"] in parsed
    other = [s for s in parsed if s[0] == "HI" and s[1].startswith("ABF:")]
    assert [len(s) - 1 for s in other] == [12, 2]
    assert ["HI", "BH:11:D8:20260209"] in parsed
    assert ["SV2", "0120", "", "4500", "DA", "3"] in parsed
    assert claim_totals(x12) == [("IP-0111-0001", Decimal("4905.40"), Decimal("4905.40"))]


def secondary_claim(pcn: str = "SEC-0001") -> ProfessionalClaim:
    adjudicated = date(2026, 2, 28)
    office = line("99213", "150.00", control="S1", adjudications=(
        LineAdjudication(other_payer_id=PRIMARY_PAYER.payer_id, paid_amount=Decimal("80.00"),
                         adjudication_date=adjudicated,
                         adjustments=(ClaimAdjustment("CO", "45", Decimal("50.00")),
                                      ClaimAdjustment("PR", "2", Decimal("20.00")))),))
    lab = line("85025", "40.00", control="S2", adjudications=(
        LineAdjudication(other_payer_id=PRIMARY_PAYER.payer_id, paid_amount=Decimal("0"), adjudication_date=adjudicated,
                         adjustments=(ClaimAdjustment("PR", "1", Decimal("40.00")),)),))
    primary = OtherPayerCoverage(
        payer=PRIMARY_PAYER, subscriber=OtherSubscriber(member_id="W123456789", last_name="DOE", first_name="JANE",
                                                        address=HOME),
        payer_responsibility="P", relationship_to_patient="18", claim_filing_indicator="CI", group_number="GRP1001",
        payer_paid_amount=Decimal("80.00"), remaining_patient_liability=Decimal("60.00"))
    return professional_claim(
        pcn, lines=(office, lab), payer=SECONDARY_PAYER,
        subscriber=subscriber(member_id="BSI-77-1234", payer_responsibility="S", group_number=None),
        other_payers=(primary,))


def test_secondary_professional_claim_with_primary_adjudication_is_pyx12_clean():
    x12 = build(secondary_claim())

    assert_pyx12_clean(x12)
    assert_envelopes_consistent(x12)
    parsed = segments(x12)
    sbr = [s for s in parsed if s[0] == "SBR"]
    assert sbr[0][:2] == ["SBR", "S"] and sbr[1][:3] == ["SBR", "P", "18"]
    assert ["AMT", "D", "80"] in parsed and ["AMT", "EAF", "60"] in parsed
    assert ["OI", "", "", "Y", "", "", "Y"] in parsed
    assert ["NM1", "PR", "2", "ACME HEALTH PLAN", "", "", "", "", "PI", "60054"] in parsed
    svd = [s for s in parsed if s[0] == "SVD"]
    assert svd == [["SVD", "60054", "80", "HC:99213", "", "1"], ["SVD", "60054", "0", "HC:85025", "", "1"]]
    assert ["CAS", "CO", "45", "50"] in parsed and ["CAS", "PR", "2", "20"] in parsed
    assert [s for s in parsed if s[:2] == ["DTP", "573"]] == [["DTP", "573", "D8", "20260228"]] * 2


def test_secondary_institutional_claim_with_claim_level_adjudication_is_pyx12_clean():
    primary = OtherPayerCoverage(
        payer=PRIMARY_PAYER, subscriber=OtherSubscriber(member_id="W123456789", last_name="DOE", first_name="JANE"),
        payer_paid_amount=Decimal("700.00"), adjudication_date=date(2026, 2, 27),
        claim_adjustments=(ClaimAdjustment("CO", "45", Decimal("150.00")), ClaimAdjustment("PR", "3", Decimal("42.75"))))
    claim = institutional_claim("ISEC-1", payer=SECONDARY_PAYER, subscriber=subscriber(payer_responsibility="S"),
                                other_payers=(primary,))
    x12 = build(claim)

    assert_pyx12_clean(x12)
    parsed = segments(x12)
    assert ["CAS", "CO", "45", "150"] in parsed and ["AMT", "D", "700"] in parsed
    assert ["DTP", "573", "D8", "20260227"] in parsed


@pytest.mark.parametrize("frequency", ["7", "8"])
def test_replacement_and_void_claims_carry_the_payer_claim_control_number(frequency):
    x12 = build(professional_claim("PCN0001", frequency_code=frequency, payer_claim_control_number="2026055000123"))

    assert_pyx12_clean(x12)
    parsed = segments(x12)
    assert next(s for s in parsed if s[0] == "CLM")[5] == f"11:B:{frequency}"
    assert ["REF", "F8", "2026055000123"] in parsed


def test_institutional_replacement_takes_its_frequency_from_the_type_of_bill():
    x12 = build(institutional_claim("OP-REPL", type_of_bill="0137", payer_claim_control_number="ICN998877"))

    assert_pyx12_clean(x12)
    parsed = segments(x12)
    assert next(s for s in parsed if s[0] == "CLM")[5] == "13:A:7"
    assert ["REF", "F8", "ICN998877"] in parsed


def test_batch_of_claims_for_several_subscribers_and_patients_in_one_file():
    husband = subscriber(member_id="W555000111", last_name="ROE", first_name="RICHARD")
    child = Patient(last_name="ROE", first_name="EMMA", birth_date=date(2015, 9, 1), gender="F", address=HOME,
                    relationship_to_subscriber="19")
    spouse = Patient(last_name="ROE", first_name="RITA", birth_date=date(1983, 1, 2), gender="F", address=HOME,
                     relationship_to_subscriber="01")
    second_clinic = dataclasses.replace(CLINIC, npi=RENDERING_NPI, name="SUNRISE PEDIATRICS", tax_id="223456789")
    claims = (
        professional_claim("B-001"),
        professional_claim("B-002", subscriber=husband),
        professional_claim("B-003", subscriber=husband, patient=child),
        professional_claim("B-004", subscriber=husband, patient=spouse),
        professional_claim("B-005", subscriber=husband, patient=child, billing_provider=second_clinic),
        professional_claim("B-006"),  # same subscriber as B-001: grouped under the same 2000B
        institutional_claim("B-007"),
        institutional_claim("B-008", subscriber=husband, patient=child),
    )
    x12 = build(*claims, icn=424242, groups=[7001, 7002], sets=[31, 32], newline_after_segment=True)

    assert_pyx12_clean(x12)
    assert_envelopes_consistent(x12)
    assert x12.count("~\n") == len(segments(x12))
    parsed = segments(x12)
    assert [s[8] for s in parsed if s[0] == "GS"] == ["005010X222A1", "005010X223A2"]
    assert [s[6] for s in parsed if s[0] == "GS"] == ["7001", "7002"]
    assert [s[2] for s in parsed if s[0] == "ST"] == ["0031", "0032"]
    assert parsed[0][13] == "000424242" and parsed[-1] == ["IEA", "2", "000424242"]
    assert [s[1] for s in parsed if s[0] == "CLM"] == ["B-001", "B-006", "B-002", "B-003", "B-004", "B-005", "B-007",
                                                       "B-008"]
    professional_hl = [s[1:] for s in parsed[:next(i for i, s in enumerate(parsed) if s[0] == "GE")] if s[0] == "HL"]
    assert professional_hl == [
        ["1", "", "20", "1"],  # SUNRISE FAMILY MEDICINE
        ["2", "1", "22", "0"],  # JANE DOE, herself: B-001, B-006
        ["3", "1", "22", "0"],  # RICHARD ROE, himself: B-002
        ["4", "1", "22", "1"],  # RICHARD ROE's dependents
        ["5", "4", "23", "0"],  # EMMA: B-003
        ["6", "4", "23", "0"],  # RITA: B-004
        ["7", "", "20", "1"],  # SUNRISE PEDIATRICS
        ["8", "7", "22", "1"],
        ["9", "8", "23", "0"],  # EMMA: B-005
    ]
    assert all(total == lines for _, total, lines in claim_totals(x12))


def test_large_batches_split_into_transaction_sets_and_repeat_hl_after_100_claims():
    claims = [professional_claim(f"BULK-{number:05d}") for number in range(205)]
    x12 = build(*claims, max_claims_per_transaction=150)

    assert_pyx12_clean(x12)
    assert_envelopes_consistent(x12)
    parsed = segments(x12)
    assert [s[2] for s in parsed if s[0] == "ST"] == ["0001", "0002"]
    # 150 claims of one subscriber in the first set: 2000B repeated after 100 (loop 2300 limit).
    first_set = parsed[:next(i for i, s in enumerate(parsed) if s[0] == "SE")]
    assert [s[1:] for s in first_set if s[0] == "HL"] == [["1", "", "20", "1"], ["2", "1", "22", "0"],
                                                          ["3", "1", "22", "0"]]
    assert sum(1 for s in parsed if s[0] == "CLM") == 205


def test_a_prepared_interchange_takes_its_control_numbers_last_and_matches_build():
    """What the 837 batcher does: render first, draw control numbers only for a batch that renders."""
    claims = [professional_claim(f"PREP-{n:03d}") for n in range(7)] + [institutional_claim("PREP-I01")]
    batch = ClaimBatch(submitter=SUBMITTER, receiver=RECEIVER, claims=tuple(claims))
    prepared = prepare_837(batch, created_at=CREATED_AT, usage_indicator="T", max_claims_per_transaction=3)
    assert (prepared.group_count, prepared.transaction_set_count) == envelope_counts(
        batch, max_claims_per_transaction=3) == (2, 4)
    numbers = {"interchange_control_number": 4711, "group_control_numbers": [88, 89],
               "transaction_set_control_numbers": [501, 502, 503, 504]}
    x12 = prepared.render(**numbers)
    assert x12 == build(*claims, icn=4711, groups=[88, 89], sets=[501, 502, 503, 504], max_claims_per_transaction=3)
    assert_pyx12_clean(x12)
    assert_envelopes_consistent(x12)
    parsed = segments(x12)
    assert [s[2] for s in parsed if s[0] == "ST"] == ["0501", "0502", "0503", "0504"]
    assert [s[3] for s in parsed if s[0] == "BHT"] == [f"000004711{n:04d}" for n in (501, 502, 503, 504)]
    assert prepared.render(**{**numbers, "interchange_control_number": 4712}) != x12  # the same render, renumbered

    with pytest.raises(ValueError, match="needs 2 group and 4 transaction set"):
        prepared.render(**{**numbers, "transaction_set_control_numbers": [1, 2, 3]})
    with pytest.raises(ValueError, match="must not repeat"):
        prepared.render(**{**numbers, "group_control_numbers": [7, 7]})
    with pytest.raises(X12ContentError, match="patient_control_number: is 21 characters"):
        prepare_837(ClaimBatch(submitter=SUBMITTER, receiver=RECEIVER, claims=(professional_claim("X" * 21),)),
                    created_at=CREATED_AT)


# ----------------------------------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "text"), [
    ("125.00", "125"), ("125.50", "125.5"), ("125.55", "125.55"), ("0.00", "0"), ("1E+3", "1000"),
    ("-12.30", "-12.3"), ("100", "100"), ("0.05", "0.05"), ("12.500", "12.5"),
])
def test_money_has_no_exponent_and_no_needless_zeros(amount, text):
    assert format_amount(Decimal(amount)) == text


def test_fractions_of_a_cent_are_refused():
    with pytest.raises(X12ContentError, match="fractions of a cent"):
        format_amount(Decimal("1.005"))


# ----------------------------------------------------------------------------------------------
# Refusals
# ----------------------------------------------------------------------------------------------


def test_more_than_50_lines_on_a_professional_claim_must_be_split_by_the_caller():
    lines = tuple(line("99213", "10.00") for _ in range(51))
    expected = r"claims\[0\] \(CLM01 'PCN0001'\)\.lines: has 51 service lines.*at most 50"
    with pytest.raises(X12ContentError, match=expected):
        build(professional_claim(lines=lines))
    assert "CLM*PCN0001*500" in build(professional_claim(lines=lines[:50]))


def test_total_charge_must_equal_the_sum_of_the_lines():
    expected = r"total_charge: CLM02 140 does not equal the sum of the line charges 140\.5"
    with pytest.raises(X12ContentError, match=expected):
        build(professional_claim(total_charge=Decimal("140.00")))


def test_a_delimiter_in_a_name_is_refused_naming_the_field():
    claim = professional_claim("OK-1")
    bad = professional_claim("BAD-1", subscriber=subscriber(last_name="O*BRIEN"))
    with pytest.raises(X12ContentError) as raised:
        build(claim, bad)
    assert raised.value.field == "claims[1] (CLM01 'BAD-1').subscriber.last_name"
    assert "'*'" in str(raised.value) and "delimiter" in str(raised.value)


@pytest.mark.parametrize(("changes", "field"), [
    ({"patient_control_number": "PCN~1"}, "patient_control_number"),
    ({"prior_authorization": "AUTH:1"}, "prior_authorization"),
    ({"referring_provider": Provider(npi=REFERRING_NPI, last_name="SMITH^JONES", first_name="A")},
     "referring_provider.last_name"),
    ({"subscriber": subscriber(first_name="JOSÉ")}, "subscriber.first_name"),
])
def test_other_characters_that_cannot_be_sent_are_refused(changes, field):
    with pytest.raises(X12ContentError) as raised:
        build(professional_claim(**changes))
    assert raised.value.field.endswith(field)


def test_po_box_billing_provider_address_is_refused():
    po_box = dataclasses.replace(CLINIC, address=Address("P.O. Box 1234", "MIAMI", "FL", "331111234"))
    with pytest.raises(X12ContentError, match=r"billing_provider\.address\.line1: 'P\.O\. Box 1234' is a post office"):
        build(professional_claim(billing_provider=po_box))


def test_patient_control_number_longer_than_20_is_refused():
    with pytest.raises(X12ContentError, match="patient_control_number: is 21 characters"):
        build(professional_claim("X" * 21))


def test_replacement_without_payer_claim_control_number_is_refused():
    with pytest.raises(X12ContentError, match="payer_claim_control_number: is required for frequency code 7"):
        build(professional_claim(frequency_code="7"))


def test_invalid_npi_check_digit_is_refused():
    with pytest.raises(X12ContentError, match=r"rendering_provider\.npi: '1234567890'"):
        build(professional_claim(rendering_provider=Provider(npi="1234567890", last_name="A", first_name="B")))


def test_unbalanced_secondary_line_is_refused():
    claim = secondary_claim()
    office = claim.lines[0]
    bad_adjudication = dataclasses.replace(office.adjudications[0], paid_amount=Decimal("81.00"))
    bad = dataclasses.replace(claim, lines=(dataclasses.replace(office, adjudications=(bad_adjudication,)),
                                            claim.lines[1]))
    with pytest.raises(X12ContentError, match=r"lines\[0\]\.adjudications\[0\]\.paid_amount: SVD02 81 does not balance"):
        build(bad)


def test_unbalanced_payer_paid_amount_is_refused():
    claim = secondary_claim()
    bad = dataclasses.replace(claim, other_payers=(dataclasses.replace(claim.other_payers[0],
                                                                       payer_paid_amount=Decimal("90")),))
    with pytest.raises(X12ContentError, match=r"other_payers\[0\]\.payer_paid_amount: AMT\*D 90 does not balance"):
        build(bad)


def test_diagnosis_pointer_beyond_the_claims_diagnoses_is_refused():
    with pytest.raises(X12ContentError, match=r"lines\[0\]\.diagnosis_pointers: 3 does not point"):
        build(professional_claim(lines=(line("99213", "10", pointers=(1, 3)),)))


@pytest.mark.parametrize(("arguments", "message"), [
    ({"interchange_control_number": 0}, "interchange_control_number"),
    ({"interchange_control_number": 1_000_000_000}, "interchange_control_number"),
    ({"group_control_numbers": [0]}, r"group_control_numbers\[0\]"),
    ({"transaction_set_control_numbers": [1, 2]}, "needs 1 group and 1 transaction set"),
    ({"usage_indicator": "X"}, "usage_indicator"),
])
def test_control_numbers_and_usage_are_checked(arguments, message):
    batch = ClaimBatch(submitter=SUBMITTER, receiver=RECEIVER, claims=(professional_claim(),))
    call = dict(interchange_control_number=1, group_control_numbers=[1], transaction_set_control_numbers=[1],
                created_at=CREATED_AT)
    call.update(arguments)
    with pytest.raises(ValueError, match=message):
        build_837(batch, **call)


def test_same_inputs_give_the_same_bytes():
    assert build(professional_claim(), secondary_claim()) == build(professional_claim(), secondary_claim())


def test_more_than_999_lines_on_an_institutional_claim_is_refused():
    lines = tuple(InstitutionalServiceLine(revenue_code="0300", charge=Decimal("1")) for _ in range(1000))
    with pytest.raises(X12ContentError, match=r"lines: has 1000 service lines; an 837I claim allows at most 999"):
        build(institutional_claim(lines=lines))


def test_the_pyx12_helper_reports_what_is_wrong_with_a_broken_file():
    """Guards the zero-error assertions above against a helper that cannot fail."""
    x12 = build(institutional_claim("BROKEN-1"))
    broken = (x12.replace("13:A:1", "13:B:1")  # 837P facility qualifier in an 837I
                 .replace("N3*1 HOSPITAL DR~", ""))  # required billing provider address gone
    messages = [str(error) for error in pyx12_errors(broken)]
    assert any(m.startswith("CLM05") and "Facility Code Qualifier" in m for m in messages), messages
    assert any(m.startswith("N3") and "Billing Provider Address" in m for m in messages), messages
    assert any(m.startswith("ST") and "SE count" in m for m in messages), messages


def test_memoized_renderings_never_bypass_the_checks():
    """Quantities may have three decimals, money two: a value seen as units must still be refused
    as a charge; a float equal to a memoized Decimal is still refused."""
    from openrcm_shared.x12.claim_837 import format_quantity

    assert format_quantity(Decimal("1.005")) == "1.005"
    with pytest.raises(X12ContentError, match="fractions of a cent"):
        format_amount(Decimal("1.005"))
    assert format_amount(Decimal("125.00")) == "125"
    with pytest.raises(X12ContentError, match="must be a finite Decimal"):
        format_amount(125.0)
    build(professional_claim(lines=(line("99213", "10", modifiers=("25",)),)))
    with pytest.raises(X12ContentError, match=r"lines\[0\]\.modifiers\[0\]"):
        build(professional_claim(lines=(line("99213", "10", modifiers=("2*",)),)))


def test_line_place_of_service_is_sent_only_when_it_differs_from_the_claim():
    claim = professional_claim(lines=(line("99213", "10", place_of_service="11"), line("99213", "10",
                                                                                     place_of_service="22")))
    sv1 = [s for s in segments(build(claim)) if s[0] == "SV1"]
    assert [s[5] for s in sv1] == ["", "22"]
