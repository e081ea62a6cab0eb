"""ICD-10-CM validity by date of service, on the real CMS code sets shipped by the packages."""

from __future__ import annotations

from datetime import date

import pytest

from openrcm_claims.domain.scrubber import load_order_file
from openrcm_claims.domain.scrubber.codesets import icd10cm


@pytest.fixture(scope="session")
def icd(shipped):
    return shipped.icd10cm


def test_fiscal_years_start_on_october_first():
    assert icd10cm.fiscal_year(date(2025, 9, 30)) == 2025
    assert icd10cm.fiscal_year(date(2025, 10, 1)) == 2026
    assert icd10cm.release_label(date(2025, 10, 1)) == "FY2026"
    assert icd10cm.release_label(date(2026, 4, 1)) == "FY2026 (April 1, 2026 update)"


def test_shipped_releases_cover_fy2019_to_fy2026_with_the_mid_year_updates(icd):
    assert icd.first_day == date(2018, 10, 1)
    assert icd.last_day == date(2026, 9, 30)
    assert set(icd.effective_dates) >= {date(year, 10, 1) for year in range(2018, 2026)} | {
        date(2020, 4, 1), date(2021, 1, 1), date(2022, 4, 1), date(2023, 4, 1), date(2026, 4, 1)}


def test_fy2026_has_the_published_number_of_codes(icd):
    # CMS/NCHS FY2026 ICD-10-CM: 74,719 codes valid for HIPAA-covered transactions.
    assert len(icd.release_for(date(2026, 5, 1)).billable) == 74_719


@pytest.mark.parametrize("day", [date(2018, 10, 1), date(2021, 6, 1), date(2024, 2, 29), date(2026, 9, 30)])
def test_common_codes_are_billable_in_every_release(icd, day):
    for code in ("E119", "I10", "Z0000", "J069", "V0001XA"):
        assert icd.is_billable(code, day), (code, day)


@pytest.mark.parametrize("code", ["E11", "E1162", "I50", "Z00"])
def test_category_headers_are_not_billable(icd, code):
    index, _ = icd.index_for(date(2026, 5, 1))
    assert icd.classify(code, index) == icd10cm.HEADER


@pytest.mark.parametrize("code,day,expected", [
    # E11.A (type 2 diabetes in remission) is new in FY2026
    ("E11A", date(2025, 9, 30), icd10cm.NOT_YET_VALID),
    ("E11A", date(2025, 10, 1), icd10cm.BILLABLE),
    # G35 (multiple sclerosis) was expanded in FY2026: billable before, a header after
    ("G35", date(2025, 9, 30), icd10cm.BILLABLE),
    ("G35", date(2025, 10, 1), icd10cm.HEADER),
    # S30.1XXA was deleted outright in FY2026
    ("S301XXA", date(2025, 9, 30), icd10cm.BILLABLE),
    ("S301XXA", date(2025, 10, 1), icd10cm.DELETED),
    # U07.1 (COVID-19) took effect April 1, 2020, mid FY2020
    ("U071", date(2020, 3, 31), icd10cm.NOT_YET_VALID),
    ("U071", date(2020, 4, 1), icd10cm.BILLABLE),
    # Z59.1 was expanded (Z59.10-Z59.19) in the April 1, 2023 update
    ("Z591", date(2023, 3, 31), icd10cm.BILLABLE),
    ("Z591", date(2023, 4, 1), icd10cm.HEADER),
    ("Z5910", date(2023, 4, 1), icd10cm.BILLABLE),
    # J12.82 (pneumonia due to COVID-19) took effect January 1, 2021
    ("J1282", date(2020, 12, 31), icd10cm.NOT_YET_VALID),
    ("J1282", date(2021, 1, 1), icd10cm.BILLABLE),
    # external-cause codes come with their own history: V00.031A from FY2021
    ("V00031A", date(2020, 9, 30), icd10cm.UNVERIFIED),
    ("V00031A", date(2020, 10, 1), icd10cm.BILLABLE),
    ("Q0000", date(2026, 5, 1), icd10cm.UNKNOWN),
])
def test_validity_follows_the_release_in_force_on_the_date_of_service(icd, code, day, expected):
    index, covered = icd.index_for(day)
    assert covered
    assert icd.classify(code, index) == expected


def test_the_scrubber_picks_the_release_by_each_lines_date(run, b):
    # E11.A is valid on the October line only; each diagnosis is checked on the lines pointing at it.
    sep, octo = date(2025, 9, 30), date(2025, 10, 1)
    lines = (b.line(1, service_date=sep, diagnosis_pointers=(2,)),
             b.line(2, service_date=octo, procedure_code="93000", diagnosis_pointers=(1,)))
    subject = b.claim(diagnosis_codes=("E11A", "I10"), lines=lines)
    assert b.ids(run(subject, today=date(2025, 10, 20))) == []
    swapped = b.claim(diagnosis_codes=("E11A", "I10"), lines=(
        replace_pointers(lines[0], (1,)), replace_pointers(lines[1], (2,))))
    result = run(swapped, today=date(2025, 10, 20))
    assert [(hit.rule_id, hit.pointer) for hit in result.hits] == [("ICD10.NOT_VALID_ON_DOS", "/diagnosis_codes/0")]
    assert "FY2025" in result.hits[0].message and "E11.A" in result.hits[0].message


def replace_pointers(item, pointers):
    from dataclasses import replace
    return replace(item, diagnosis_pointers=pointers)


@pytest.mark.parametrize("code,day,rule_id", [
    ("E11", date(2026, 5, 1), "ICD10.NOT_BILLABLE"),
    ("G35", date(2025, 11, 3), "ICD10.NOT_BILLABLE"),
    ("S301XXA", date(2025, 11, 3), "ICD10.NOT_VALID_ON_DOS"),
    ("E11A", date(2025, 6, 2), "ICD10.NOT_VALID_ON_DOS"),
    ("U071", date(2020, 3, 2), "ICD10.NOT_VALID_ON_DOS"),
])
def test_invalid_diagnoses_block_the_claim(run, b, code, day, rule_id):
    result = run(b.on(day, diagnosis_codes=(code, "I10")), today=day + b.days(10))
    assert [hit.rule_id for hit in result.hits] == [rule_id]
    assert result.blocked


def test_institutional_claims_use_the_through_date(run, b):
    # an inpatient stay from September into October is coded with the October (new FY) release
    lines = (b.line(service_date=date(2025, 9, 28), service_date_to=date(2025, 10, 2), diagnosis_pointers=()),)
    def icd10(subject):  # the claim has no type of bill etc.: only the diagnosis rules matter here
        return [rule_id for rule_id in b.ids(run(subject, today=date(2025, 10, 20))) if rule_id.startswith("ICD10")]
    assert icd10(b.claim(claim_type="institutional", diagnosis_codes=("E11A",), lines=lines)) == []
    assert icd10(b.claim(claim_type="institutional", diagnosis_codes=("G35",), lines=lines)) == ["ICD10.NOT_BILLABLE"]


def test_dates_after_the_shipped_releases_only_warn(run, b):
    day = date(2026, 10, 15)  # FY2027: no package ships it yet
    result = run(b.on(day, diagnosis_codes=("E119", "Q0000", "E11")), today=date(2026, 11, 27))
    found = {(hit.rule_id, hit.pointer) for hit in result.hits}
    assert found == {("ICD10.CODE_SET_UNAVAILABLE", "/diagnosis_codes"), ("ICD10.UNVERIFIED", "/diagnosis_codes/1"),
                     ("ICD10.NOT_BILLABLE", "/diagnosis_codes/2")}
    assert "FY2027" in result.hits[-1].message or any("FY2027" in hit.message for hit in result.hits)


def test_a_cms_order_file_adds_a_release(run, b, code_sets):
    release = load_order_file(b.synthetic("icd10cm_order_synthetic.txt"), effective=date(2026, 10, 1))
    assert release.label == "FY2027" and "E11B1" in release.billable and "E11B" in release.headers
    extended = code_sets.with_icd10cm_release(release)
    day = date(2026, 10, 15)
    result = run(b.on(day, diagnosis_codes=("E11B1", "I10")), today=date(2026, 11, 27), sets=extended)
    assert result.hits == ()
    result = run(b.on(day, diagnosis_codes=("E11B", "G35")), today=date(2026, 11, 27), sets=extended)
    assert [hit.rule_id for hit in result.hits] == ["ICD10.NOT_BILLABLE", "ICD10.NOT_VALID_ON_DOS"]


def test_order_file_rejects_other_files():
    with pytest.raises(ValueError):
        load_order_file("not\nan order file\n", effective=date(2026, 10, 1))


def test_supplement_rows_are_well_formed():
    rows = icd10cm.load_supplement()
    assert len(rows) > 800
    for row in rows:
        assert row.valid_from or row.valid_until
        assert row.valid_from is None or row.valid_from.day == 1
        assert row.valid_until is None or row.valid_until.day == 1


@pytest.mark.parametrize("code,day", [
    ("U071", date(2022, 1, 10)),   # U codes: CMS emergency codes (COVID-19)
    ("U099", date(2022, 1, 10)),   # post COVID-19 condition, from FY2022
    ("QA08", date(2026, 5, 4)),    # FY2026 category QA0: a letter in the second position
])
def test_codes_outside_the_classic_pattern_are_accepted(run, b, code, day):
    assert b.ids(run(b.on(day, diagnosis_codes=(code, "I10")), today=day + b.days(10))) == []


@pytest.mark.parametrize("code", ["E11.9", "e119", "123", "E1", "E11900000", ""])
def test_malformed_diagnoses_are_refused(run, b, code):
    assert b.ids(run(b.claim(diagnosis_codes=(code, "I10")))) == ["ICD10.FORMAT"]


def test_diagnoses_on_lines_of_different_fiscal_years_are_checked_on_each(run, b):
    # G35 is billable in FY2025 and a header in FY2026: a line on each side of October 1 points at it
    lines = (b.line(1, service_date=date(2025, 9, 30), diagnosis_pointers=(1,)),
             b.line(2, service_date=date(2025, 10, 1), procedure_code="93000", diagnosis_pointers=(1,)))
    result = run(b.claim(diagnosis_codes=("G35",), lines=lines), today=date(2025, 10, 20))
    assert [(hit.rule_id, hit.pointer) for hit in result.hits] == [("ICD10.NOT_BILLABLE", "/diagnosis_codes/0")]
