"""CMS code-set files configured for the running service: found by setting or by CMS's names in
a directory, loaded with counts, and refused loudly when a configured file cannot be read. The
files here are the synthetic extracts (CMS layouts, made-up content)."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest

from openrcm_claims.adapters.code_set_files import CodeSetFileError, discover, load_code_sets, order_file_effective
from openrcm_claims.service_layer import code_sets_in_force
from openrcm_claims.settings import CodeSetSettings

# Synthetic extract -> the name CMS gives the real file.
CMS_NAMES = {
    "hcpcs_anweb_synthetic.txt": "HCPC2026_OCT_ANWEB_v2.txt",
    "ncci_ptp_practitioner_synthetic.txt": "ccipra-v324r0-f1.txt",
    "mue_practitioner_synthetic.csv": "MCR_MUE_PractitionerServices_Eff_10-01-2026.csv",
    "icd10cm_order_synthetic.txt": "icd10cm_order_2027.txt",
}


def synthetic(name: str) -> Path:
    return Path(str(files("openrcm_claims.domain.scrubber").joinpath(f"data/synthetic/{name}")))


@pytest.fixture
def cms_directory(tmp_path: Path) -> Path:
    for source, cms_name in CMS_NAMES.items():
        shutil.copy(synthetic(source), tmp_path / cms_name)
    (tmp_path / "README.txt").write_text("not a code set")
    return tmp_path


def test_a_directory_of_cms_files_is_found_by_their_names_and_loaded_with_counts(cms_directory):
    found = discover(CodeSetSettings(code_set_dir=str(cms_directory)))
    assert (found.hcpcs.name, [p.name for p in found.ptp_practitioner], found.mue_practitioner.name,
            [p.name for p in found.icd10cm_orders]) == (
        "HCPC2026_OCT_ANWEB_v2.txt", ["ccipra-v324r0-f1.txt"], "MCR_MUE_PractitionerServices_Eff_10-01-2026.csv",
        ["icd10cm_order_2027.txt"])
    assert found.ptp_hospital == () and found.mue_hospital is None
    code_sets, report = load_code_sets(found)
    assert set(report.counts) == {"hcpcs_codes", "ptp_practitioner_edits", "mue_practitioner_codes",
                                  "icd10cm_order_file_codes"}
    assert all(count > 0 for count in report.counts.values())
    assert report.counts["hcpcs_codes"] == len(code_sets.hcpcs.codes)
    assert "professional" in code_sets.ptp and "professional" in code_sets.mue
    assert code_sets.icd10cm.last_day == date(2027, 9, 30)  # FY2027 added from the order file


def test_a_file_setting_wins_over_the_directory(cms_directory, tmp_path_factory):
    other = tmp_path_factory.mktemp("other") / "HCPC2025_JAN_ANWEB.txt"
    shutil.copy(synthetic("hcpcs_anweb_synthetic.txt"), other)
    found = discover(CodeSetSettings(code_set_dir=str(cms_directory), hcpcs_file=str(other),
                                     ncci_ptp_files=f"{synthetic('ncci_ptp_practitioner_synthetic.txt')}, "
                                                    f"{synthetic('ncci_ptp_practitioner_synthetic.csv')}"))
    assert found.hcpcs == other and len(found.ptp_practitioner) == 2


def test_a_configured_file_that_cannot_be_loaded_stops_the_load_naming_the_setting(tmp_path):
    with pytest.raises(CodeSetFileError, match="OPENRCM_CLAIMS_MUE_FILE"):
        load_code_sets(discover(CodeSetSettings(mue_file=str(tmp_path / "missing.csv"))))
    not_hcpcs = tmp_path / "HCPC2026_JAN_ANWEB.txt"
    not_hcpcs.write_text("this is not the CMS layout\n")
    with pytest.raises(CodeSetFileError, match="could not be loaded"):
        load_code_sets(discover(CodeSetSettings(code_set_dir=str(tmp_path))))
    with pytest.raises(CodeSetFileError, match="not a directory"):
        discover(CodeSetSettings(code_set_dir=str(tmp_path / "nowhere")))


def test_order_files_start_their_fiscal_year_on_october_first():
    assert order_file_effective(Path("icd10cm_order_2027.txt")) == date(2026, 10, 1)


def test_the_service_loads_the_configured_files_once_and_logs_the_counts(cms_directory, monkeypatch, caplog):
    monkeypatch.setenv("OPENRCM_CLAIMS_CODE_SET_DIR", str(cms_directory))
    in_force = code_sets_in_force.CodeSetsInForce()
    with caplog.at_level(logging.INFO, logger=code_sets_in_force.__name__):
        loaded = in_force.now()
        assert in_force.now() is loaded
    [record] = [r for r in caplog.records if r.message == "CMS code-set files loaded"]
    assert record.code_set_counts["hcpcs_codes"] == len(loaded.hcpcs.codes)
    assert record.code_set_files["mue_practitioner"] == ["MCR_MUE_PractitionerServices_Eff_10-01-2026.csv"]
    assert in_force.environment_files()["hcpcs"] == ["HCPC2026_OCT_ANWEB_v2.txt"]


async def test_claims_are_not_scrubbed_when_a_configured_file_cannot_be_loaded(tmp_path):
    in_force = code_sets_in_force.CodeSetsInForce()
    in_force.starting()  # as the service does before it takes requests
    settings = CodeSetSettings(mue_file=str(tmp_path / "missing.csv"))
    with pytest.raises(CodeSetFileError, match="OPENRCM_CLAIMS_MUE_FILE"):
        await in_force.run(engine=None, settings=settings)  # fails before it needs the database
    with pytest.raises(code_sets_in_force.CodeSetsUnavailable, match="missing.csv"):
        await in_force.ready()
