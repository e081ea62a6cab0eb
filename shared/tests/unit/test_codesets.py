"""CARC/RARC package data, validity dates, and the CLP02/CAS01 enums."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources
from pathlib import Path

import pytest

from openrcm_shared.codes import CARC, RARC
from openrcm_shared.codesets import (
    LISTING_DATE,
    AdjustmentGroupCode,
    ClaimStatusCode,
    all_carc,
    all_rarc,
    carc,
    is_valid_on,
    patient_share_kind,
    rarc,
)
from openrcm_shared.codesets import build_codesets

SOURCES = Path(__file__).resolve().parents[2] / "codesets_sources"


def test_package_data_is_found_through_importlib_resources():
    package = resources.files("openrcm_shared.codesets")
    for name in ("carc.csv", "rarc.csv", "README.md"):
        assert package.joinpath(name).is_file(), name
    header = package.joinpath("carc.csv").read_text(encoding="utf-8").splitlines()[:8]
    assert any("x12.org/codes/claim-adjustment-reason-codes" in line for line in header)


def test_counts_cover_the_whole_published_lists():
    # X12 listed 407 CARCs and 1216 RARCs (retired ones included) on 2026-08-17.
    assert 300 <= len(all_carc()) <= 600
    assert 1000 <= len(all_rarc()) <= 2000
    assert len({entry.code for entry in all_carc()}) == len(all_carc())
    assert len({entry.code for entry in all_rarc()}) == len(all_rarc())


def test_letter_prefixed_carcs_are_present():
    for code in ["A1", "B7", "W1", *(f"P{n}" for n in range(1, 33))]:
        assert carc(code) is not None, code
    assert carc("W1").status == "deactivated"  # replaced by P12 on 2014-07-01


def test_every_rarc_prefix_is_present():
    prefixes = {entry.code.rstrip("0123456789") for entry in all_rarc()}
    assert prefixes == {"M", "MA", "N"}


@pytest.mark.parametrize(
    ("code", "description"),
    [
        ("1", "Deductible Amount"),
        ("2", "Coinsurance Amount"),
        ("3", "Co-payment Amount"),
        ("197", "Precertification/authorization/notification/pre-treatment absent."),
    ],
)
def test_carc_spot_checks_exact(code, description):
    assert carc(code).description == description


@pytest.mark.parametrize(
    ("code", "opening"),
    [
        ("45", "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee"),
        ("50", "These are non-covered services because this is not deemed a 'medical necessity'"),
        ("96", "Non-covered charge(s). At least one Remark Code must be provided"),
        ("97", "The benefit for this service is included in the payment/allowance for another"),
    ],
)
def test_carc_spot_checks_opening(code, opening):
    assert carc(code).description.startswith(opening)
    assert carc(code).status == "current"


def test_rarc_spot_checks():
    assert rarc("N130").description == (
        "Consult plan benefit documents/guidelines for information about restrictions for this service."
    )
    assert rarc("M15").description == (
        "Separately billed services/tests have been bundled as they are considered components of the"
        " same procedure. Separate payment is not allowed."
    )
    assert rarc("MA01").description.startswith(
        "Alert: If you do not agree with what we approved for these services, you may appeal"
    )
    assert rarc("MA01").is_alert
    assert rarc("N115").description.startswith(
        "This decision was based on a Local Coverage Determination (LCD)."
    )
    assert not rarc("N115").is_alert


def test_lookups_normalise_and_miss_cleanly():
    assert rarc(" ma01 ").code == "MA01"
    assert carc("a1").code == "A1"
    assert carc("999") is None
    assert rarc("N9999") is None


def test_loaded_once():
    assert carc("1") is carc("1")
    assert all_rarc()[0] is rarc(all_rarc()[0].code)


def test_every_code_matches_the_syntax_rules():
    assert [e.code for e in all_carc() if not CARC.match(e.code)] == []
    assert [e.code for e in all_rarc() if not RARC.match(e.code)] == []


def test_retired_code_is_accepted_before_its_stop_date_and_rejected_from_it():
    # CARC 17 was deactivated with Stop: 07/01/2009; RARC M33 with Stop: 08/01/2004.
    deductible_info = carc("17")
    assert deductible_info.stop_date == date(2009, 7, 1)
    assert is_valid_on(deductible_info, date(2009, 6, 30))
    assert not is_valid_on(deductible_info, date(2009, 7, 1))
    upin = rarc("M33")
    assert is_valid_on(upin, date(2004, 7, 31))
    assert not is_valid_on(upin, date(2026, 1, 2))


def test_code_is_rejected_before_its_start_date():
    # CARC 272 (coverage/program guidelines not met) started 11/01/2015, replacing B5.
    guidelines = carc("272")
    assert not is_valid_on(guidelines, date(2015, 10, 31))
    assert is_valid_on(guidelines, date(2015, 11, 1))


def test_retired_code_without_a_known_stop_date_is_rejected_from_the_listing_date():
    authorization = carc("15")
    assert authorization.status == "deactivated" and authorization.stop_date is None
    assert is_valid_on(authorization, LISTING_DATE - timedelta(days=1))
    assert not is_valid_on(authorization, LISTING_DATE)


def test_current_code_with_unknown_start_is_valid():
    negotiated_refund = carc("307")
    assert negotiated_refund.start_date is None
    assert is_valid_on(negotiated_refund, date(2026, 11, 27))


def test_claim_status_codes_of_005010x221a1():
    assert {code.value for code in ClaimStatusCode} == {
        "1", "2", "3", "4", "19", "20", "21", "22", "23", "25",
    }
    assert ClaimStatusCode("22").description == "Reversal of Previous Payment"
    forwarded = ClaimStatusCode.PROCESSED_AS_PRIMARY_FORWARDED
    assert forwarded.description == "Processed as Primary, Forwarded to Additional Payer(s)"
    with pytest.raises(ValueError):
        ClaimStatusCode("5")  # pended: a 277 status, never a CLP02 in 5010


def test_adjustment_group_codes():
    assert {group.value for group in AdjustmentGroupCode} == {"CO", "CR", "OA", "PI", "PR"}
    assert AdjustmentGroupCode("PR").description == "Patient Responsibility"
    assert not AdjustmentGroupCode("CR").used_in_5010
    assert AdjustmentGroupCode("CO").used_in_5010


@pytest.mark.parametrize(
    ("group", "reason", "kind"),
    [
        ("PR", "1", "deductible"),
        ("PR", "2", "coinsurance"),
        ("PR", "3", "copay"),
        ("PR", "45", "other"),
        ("CO", "1", "other"),
        (AdjustmentGroupCode.OTHER_ADJUSTMENTS, "2", "other"),
    ],
)
def test_patient_share_kind(group, reason, kind):
    assert patient_share_kind(reason, group) == kind


def test_patient_share_kind_defaults_to_patient_responsibility():
    assert patient_share_kind("3") == "copay"


def test_shipped_csvs_are_exactly_what_the_sources_build(tmp_path):
    build_codesets.main(["--sources", str(SOURCES), "--out", str(tmp_path)])
    package = resources.files("openrcm_shared.codesets")
    for name in ("carc.csv", "rarc.csv"):
        assert (tmp_path / name).read_text(encoding="utf-8") == package.joinpath(name).read_text(
            encoding="utf-8"
        ), f"{name} was edited by hand or the sources changed without a rebuild"


def test_x12_page_rows_are_read_with_their_dates(tmp_path):
    page = tmp_path / "x12_carc_2027-03-01.html"
    page.write_text(
        '<table><tr class="prod-set current"><td class="code">1</td><td class="description">'
        'Deductible Amount<span class="dates"><br />Start: 01/01/1995</span></td></tr>\n'
        '<tr class="prod-set deactivated"><td class="code">17</td><td class="description">'
        "Requested information was not provided.<span class=\"dates\"><br />Start: 01/01/1995 | "
        "Last Modified: 09/21/2008 | Stop: 07/01/2009<br /><i>Notes: Use 16.</i></span></td></tr>"
        "</table>",
        encoding="utf-8",
    )
    rows = build_codesets.read_html(page)
    assert rows["1"].description == "Deductible Amount"
    assert rows["17"].status == "deactivated"
    assert (rows["17"].start, rows["17"].modified, rows["17"].stop) == (
        date(1995, 1, 1),
        date(2008, 9, 21),
        date(2009, 7, 1),
    )
