"""NCCI PTP and MUE edits, and the loaders of the CMS file layouts (on the synthetic extracts)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from openrcm_claims.domain.scrubber import load_hcpcs_file, load_mue_files, load_ptp_files
from openrcm_claims.domain.scrubber.codesets.ncci import INDICATOR_ALLOWED, INDICATOR_NOT_ALLOWED


def _pair(b, first, second, day=None, first_modifiers=(), second_modifiers=(), second_day=None):
    day = day or b.DOS
    return b.claim(lines=(
        b.line(1, procedure_code=first, modifiers=first_modifiers, charge_amount=Decimal("90.00"), service_date=day),
        b.line(2, procedure_code=second, modifiers=second_modifiers, service_date=second_day or day)))


def _ptp(run, b, subject, today=None):
    result = run(subject, today=today or b.TODAY)
    return [hit for hit in result.hits if hit.rule_id == "NCCI.PTP"]


# -- PTP --------------------------------------------------------------------------------------

def test_column_two_code_is_denied_with_its_column_one_code(run, b):
    found = _ptp(run, b, _pair(b, "20610", "99213"))
    assert [hit.pointer for hit in found] == ["/lines/1/procedure_code"]
    assert "99213 (column 2)" in found[0].message and "20610 (column 1)" in found[0].message


def test_line_order_does_not_matter(run, b):
    subject = _pair(b, "99213", "20610")
    assert [hit.pointer for hit in _ptp(run, b, subject)] == ["/lines/0/procedure_code"]


@pytest.mark.parametrize("modifier", ["25", "59", "XE", "XP", "XS", "XU", "RT", "F1", "91"])
def test_an_ncci_associated_modifier_on_column_two_bypasses_indicator_1(run, b, modifier):
    assert _ptp(run, b, _pair(b, "20610", "99213", second_modifiers=(modifier,))) == []


@pytest.mark.parametrize("modifier", ["GA", "26", "76"])
def test_other_modifiers_do_not_bypass(run, b, modifier):
    assert len(_ptp(run, b, _pair(b, "20610", "99213", second_modifiers=(modifier,)))) == 1


def test_a_modifier_on_the_column_one_line_does_not_bypass(run, b):
    assert len(_ptp(run, b, _pair(b, "20610", "99213", first_modifiers=("59",)))) == 1


def test_indicator_0_cannot_be_bypassed(run, b):
    found = _ptp(run, b, _pair(b, "93000", "93005", second_modifiers=("59",)))
    assert len(found) == 1 and "no modifier bypasses" in found[0].message


def test_indicator_9_never_applies(run, b):
    assert _ptp(run, b, _pair(b, "11042", "97597")) == []


def test_different_dates_of_service_are_not_edited(run, b):
    assert _ptp(run, b, _pair(b, "20610", "99213", second_day=date(2026, 6, 2))) == []


@pytest.mark.parametrize("day,fires", [(date(2024, 12, 31), False), (date(2025, 1, 1), True)])
def test_an_edit_applies_from_its_effective_date(run, b, day, fires):
    assert bool(_ptp(run, b, _pair(b, "80053", "80048", day=day), today=day + b.days(5))) is fires


@pytest.mark.parametrize("day,fires", [(date(2023, 12, 31), True), (date(2024, 1, 2), False)])
def test_an_edit_applies_through_its_deletion_date(run, b, day, fires):
    assert bool(_ptp(run, b, _pair(b, "97110", "97530", day=day), today=day + b.days(5))) is fires


def test_no_ptp_file_no_ptp_edit(run, b, shipped):
    assert "NCCI.PTP" not in b.ids(run(_pair(b, "20610", "99213"), sets=shipped))


def test_ptp_edits_are_per_claim_type(run, b):
    subject = _pair(b, "20610", "99213")
    from dataclasses import replace
    institutional = replace(subject, claim_type="institutional")
    assert "NCCI.PTP" not in b.ids(run(institutional))  # only practitioner edits are loaded


def test_the_txt_and_the_csv_layouts_load_the_same_edits(b):
    txt = load_ptp_files(b.synthetic("ncci_ptp_practitioner_synthetic.txt"), label="txt")
    csv = load_ptp_files(b.synthetic("ncci_ptp_practitioner_synthetic.csv"), label="csv")
    assert len(txt) == len(csv) == 5  # the indicator-9 row is dropped
    day = date(2026, 6, 1).toordinal()
    for edits in (txt, csv):
        assert edits.find("20610", "99213", day) == (INDICATOR_ALLOWED, "Misuse of column two code with column one code")
        assert edits.find("93000", "93005", day)[0] == INDICATOR_NOT_ALLOWED
        assert edits.find("99213", "20610", day) is None
        assert edits.find("97110", "97530", date(2023, 12, 31).toordinal()) is not None
        assert edits.find("97110", "97530", date(2024, 1, 1).toordinal()) is None


def test_several_files_and_history_rows_for_one_pair(b):
    later = "99999\t88888\t\t20240101\t*\t0\tlater version of the edit\n"
    earlier = "CPT codes ...\n99999\t88888\t\t20200101\t20231231\t1\tfirst version\n"
    edits = load_ptp_files(io.StringIO(earlier), io.StringIO(later), label="two files")
    assert edits.find("99999", "88888", date(2022, 1, 1).toordinal()) == (1, "first version")
    assert edits.find("99999", "88888", date(2024, 6, 1).toordinal()) == (0, "later version of the edit")
    assert edits.find("99999", "88888", date(2019, 1, 1).toordinal()) is None


def test_since_drops_old_deleted_edits(b):
    edits = load_ptp_files(b.synthetic("ncci_ptp_practitioner_synthetic.txt"), label="recent", since=date(2024, 1, 1))
    assert len(edits) == 4


def test_a_file_without_edits_is_refused():
    with pytest.raises(ValueError):
        load_ptp_files(io.StringIO("Column 1\tColumn 2\n"), label="empty")


# -- MUE --------------------------------------------------------------------------------------

def _units(run, b, *lines):
    return [hit.pointer for hit in b.hits(run(b.claim(lines=lines)), "MUE.UNITS")]


def test_mue_csv_layout_loads(b):
    table = load_mue_files(b.synthetic("mue_practitioner_synthetic.csv"), label="synthetic")
    assert table.get("99213").max_units == 1 and table.get("99213").indicator == 2
    assert table.get("J1100").indicator == 1 and table.get("J1100").max_units == 10
    assert table.get("G0439") is None


def test_line_edit_mai_1_checks_each_line(run, b):
    assert _units(run, b, b.line(procedure_code="J1100", units=Decimal(11))) == ["/lines/0/units"]
    assert _units(run, b, b.line(procedure_code="J1100", units=Decimal(10)),
                  b.line(2, procedure_code="J1100", units=Decimal(10))) == []


def test_date_of_service_edits_mai_2_and_3_add_the_lines_of_a_day(run, b):
    assert _units(run, b, b.line(procedure_code="36415"), b.line(2, procedure_code="36415")) == []
    assert _units(run, b, b.line(procedure_code="36415"), b.line(2, procedure_code="36415"),
                  b.line(3, procedure_code="36415")) == ["/lines/2/units"]
    assert _units(run, b, b.line(procedure_code="97110", units=Decimal(3)),
                  b.line(2, procedure_code="97110", units=Decimal(2))) == ["/lines/1/units"]


def test_date_of_service_edits_count_days_separately(run, b):
    assert _units(run, b, b.line(procedure_code="99213"), b.line(2, procedure_code="99213", service_date=date(2026, 6, 2))) == []


def test_a_date_span_multiplies_a_date_of_service_mue(run, b):
    span = b.line(procedure_code="97110", units=Decimal(8), service_date=date(2026, 6, 1), service_date_to=date(2026, 6, 2))
    assert _units(run, b, span) == []
    assert _units(run, b, b.line(procedure_code="97110", units=Decimal(9), service_date=date(2026, 6, 1),
                                 service_date_to=date(2026, 6, 2))) == ["/lines/0/units"]


def test_mue_message_names_code_limit_and_indicator(run, b):
    [hit] = b.hits(run(b.claim(lines=(b.line(units=Decimal(2)),))), "MUE.UNITS")
    assert "99213" in hit.message and "of 1" in hit.message and "indicator 2" in hit.message


def test_no_mue_table_no_mue_edit(run, b, shipped):
    assert "MUE.UNITS" not in b.ids(run(b.claim(lines=(b.line(units=Decimal(5)),)), sets=shipped))


# -- HCPCS file --------------------------------------------------------------------------------

def test_hcpcs_file_layout_loads(b):
    hcpcs = load_hcpcs_file(b.synthetic("hcpcs_anweb_synthetic.txt"), label="synthetic")
    assert set(hcpcs.codes) == {"G0439", "G2012", "G0136", "J1100"}
    assert set(hcpcs.modifiers) == {"JG", "XE"}
    assert hcpcs.entry("G2012").terminated == date(2025, 12, 31).toordinal()
    assert hcpcs.entry("G2012").action == "D"
    assert hcpcs.is_valid("G0439", date(2026, 6, 1)) and not hcpcs.is_valid("G2012", date(2026, 1, 1))


def test_a_file_without_hcpcs_records_is_refused():
    with pytest.raises(ValueError):
        load_hcpcs_file(io.StringIO("just text\nmore text\n"))
