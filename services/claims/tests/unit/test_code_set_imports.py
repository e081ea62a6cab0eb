"""CMS code-set files as the import sees them: the kind and effective date told from CMS's names,
which imported versions are in force on a day, the loaders naming the line a file breaks on, and
zips opened safely. The files are the synthetic extracts (CMS layouts, made-up content)."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest

from openrcm_claims.domain.scrubber.codesets.cms_files import (
    ImportedFile, detect_kind, effective_from_name, files_in_force, load_cms_file, version_status,
)
from openrcm_claims.domain.scrubber.codesets.invalid import CodeSetFileInvalid
from openrcm_claims.service_layer.code_set_imports import Spooler, unzipped
from openrcm_shared.http.problems import Problem


def synthetic(name: str) -> bytes:
    return Path(str(files("openrcm_claims.domain.scrubber").joinpath(f"data/synthetic/{name}"))).read_bytes()


@pytest.mark.parametrize(("name", "kind", "effective"), [
    ("HCPC2026_JAN_ANWEB_v2.txt", "hcpcs", date(2026, 1, 1)),
    ("HCPC2025_OCT_ANWEB_v3.TXT", "hcpcs", date(2025, 10, 1)),
    # NCCI version 32.0 is 2026 Q1 (CMS: medicare-ncci-2026q1-practitioner-ptp-edits-ccipra-v320r0-f1.zip)
    ("ccipra-v320r0-f1.TXT", "ptp_practitioner", date(2026, 1, 1)),
    ("ccipra-v313r1-f4.txt", "ptp_practitioner", date(2025, 10, 1)),
    ("ccioph-v321r0-f2.txt", "ptp_hospital", date(2026, 4, 1)),
    ("MCR_MUE_PractitionerServices_Eff_01-01-2026.csv", "mue_practitioner", date(2026, 1, 1)),
    ("MCR_MUE_OutpatientHospitalServices_Eff_07-01-2026.csv", "mue_hospital", date(2026, 7, 1)),
    ("icd10cm_order_2027.txt", "icd10cm_order", date(2026, 10, 1)),  # FY2027 starts October 1, 2026
])
def test_kind_and_effective_date_come_from_cms_file_names(name, kind, effective):
    assert detect_kind(name) == kind
    assert effective_from_name(kind, name) == effective


@pytest.mark.parametrize("name", [
    "HCPC2026_recordlayout.txt", "proc_notes_JAN2026.txt", "ccipra-v320r0-f1.xlsx", "icd10cm_codes_2027.txt",
    "MCR_MUE_DMESupplierServices_Eff_01-01-2026.csv", "icd10cm_order_addenda_2027.txt", "fees.csv", "upload",
])
def test_files_cms_does_not_name_as_code_sets_have_no_kind(name):
    assert detect_kind(name) is None


@pytest.mark.parametrize(("kind", "name"), [
    ("ptp_practitioner", "ccipra-v324r0-f1.txt"),  # there is no fifth quarter
    ("mue_practitioner", "MCR_MUE_PractitionerServices_Eff_13-01-2026.csv"),
    ("hcpcs", "HCPC2026_XYZ_ANWEB.txt"),
    ("ptp_hospital", "ptp-hospital.txt"),
])
def test_a_name_that_does_not_say_when_gives_no_effective_date(kind, name):
    assert effective_from_name(kind, name) is None


def imported(file_id: int, kind: str, effective: date, name: str = "file.txt") -> ImportedFile:
    return ImportedFile(file_id, kind, effective, name)


def test_the_newest_version_whose_date_has_come_is_in_force():
    files = [imported(1, "mue_practitioner", date(2026, 1, 1)), imported(2, "mue_practitioner", date(2026, 4, 1)),
             imported(3, "mue_practitioner", date(2026, 7, 1))]
    assert files_in_force(files, date(2026, 5, 15)) == {"mue_practitioner": (2,)}
    assert files_in_force(files, date(2026, 7, 1)) == {"mue_practitioner": (3,)}
    assert files_in_force(files, date(2025, 12, 31)) == {}  # nothing yet
    assert [version_status(f, files_in_force(files, date(2026, 5, 15)), date(2026, 5, 15)) for f in files] == [
        "superseded", "in_force", "scheduled"]


def test_the_last_import_for_a_date_wins():
    files = [imported(4, "hcpcs", date(2026, 1, 1), "HCPC2026_JAN_ANWEB_v2.txt"),
             imported(7, "hcpcs", date(2026, 1, 1), "HCPC2026_JAN_ANWEB_v3.txt")]
    assert files_in_force(files, date(2026, 2, 1)) == {"hcpcs": (7,)}


def test_a_ptp_version_is_its_parts_and_a_part_imported_again_replaces_the_earlier_copy():
    files = [imported(1, "ptp_practitioner", date(2026, 1, 1), "ccipra-v320r0-f1.txt"),
             imported(2, "ptp_practitioner", date(2026, 4, 1), "ccipra-v321r0-f1.txt"),
             imported(3, "ptp_practitioner", date(2026, 4, 1), "ccipra-v321r0-f2.txt"),
             imported(4, "ptp_practitioner", date(2026, 4, 1), "ccipra-v321r1-f1.txt"),  # a revision of part 1
             imported(5, "ptp_hospital", date(2026, 4, 1), "ccioph-v321r0-f1.txt")]
    assert files_in_force(files, date(2026, 4, 2)) == {"ptp_practitioner": (3, 4), "ptp_hospital": (5,)}
    assert files_in_force(files, date(2026, 3, 31)) == {"ptp_practitioner": (1,)}


def test_every_icd10cm_order_file_serves_its_own_dates_of_service():
    files = [imported(1, "icd10cm_order", date(2026, 10, 1)), imported(2, "icd10cm_order", date(2027, 10, 1)),
             imported(3, "icd10cm_order", date(2026, 10, 1))]  # the same fiscal year again: the later import
    assert files_in_force(files, date(2026, 12, 1)) == {"icd10cm_order": (2, 3)}
    in_force = files_in_force(files, date(2026, 12, 1))
    assert [version_status(f, in_force, date(2026, 12, 1)) for f in files] == ["superseded", "scheduled", "in_force"]


# -- the loaders name the line -------------------------------------------------------------------------


def test_a_bad_date_in_a_hcpcs_record_names_its_line():
    lines = synthetic("hcpcs_anweb_synthetic.txt").decode("latin-1").splitlines()
    lines[2] = lines[2][:268] + "20261399" + lines[2][276:]  # month 13
    with pytest.raises(CodeSetFileInvalid) as refused:
        load_cms_file("hcpcs", io.StringIO("\n".join(lines)), label="bad", effective=date(2026, 1, 1))
    assert refused.value.line == 3 and "month" in refused.value.detail


def test_a_ptp_row_with_a_bad_date_or_indicator_names_its_line():
    text = synthetic("ncci_ptp_practitioner_synthetic.txt").decode("latin-1")
    bad_date = text.replace("20200101\t*\t1\tMisuse", "20201301\t*\t1\tMisuse")
    with pytest.raises(CodeSetFileInvalid) as refused:
        load_cms_file("ptp_practitioner", io.StringIO(bad_date), label="bad", effective=date(2026, 1, 1))
    assert refused.value.line == 4
    bad_indicator = text.replace("19960101\t*\t0\tMutually", "19960101\t*\tX\tMutually")
    with pytest.raises(CodeSetFileInvalid, match="line 5: .*modifier indicator"):
        load_cms_file("ptp_practitioner", io.StringIO(bad_indicator), label="bad", effective=date(2026, 1, 1))


def test_an_order_file_line_that_is_not_a_code_names_its_line():
    text = synthetic("icd10cm_order_synthetic.txt").decode("latin-1").replace("00006 I10     1", "00006 I-10    1")
    with pytest.raises(CodeSetFileInvalid) as refused:
        load_cms_file("icd10cm_order", io.StringIO(text), label="bad", effective=date(2026, 10, 1))
    assert refused.value.line == 6


def test_a_file_of_another_kind_is_refused_as_a_whole():
    with pytest.raises(CodeSetFileInvalid) as refused:
        load_cms_file("mue_practitioner", io.StringIO(synthetic("hcpcs_anweb_synthetic.txt").decode("latin-1")),
                      label="not an MUE file", effective=date(2026, 1, 1))
    assert refused.value.line is None


# -- zips ----------------------------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> Spooler:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    spooler = Spooler("release.zip", max_bytes=10 << 20, too_large=lambda: Problem(413, "too large"))
    spooler.write(buffer.getvalue())
    return spooler


def test_the_cms_files_in_a_zip_are_taken_and_the_rest_left():
    upload = _zip({"HCPC2026_JAN_ANWEB_v2.txt": synthetic("hcpcs_anweb_synthetic.txt"),
                   "HCPC2026_recordlayout.txt": b"layout", "proc_notes_JAN2026.txt": b"notes",
                   "mue/MCR_MUE_PractitionerServices_Eff_01-01-2026.csv": synthetic("mue_practitioner_synthetic.csv")}
                  ).upload()
    found = unzipped(upload, kind=None, max_bytes=1 << 20, too_large=lambda: Problem(413, "too large"))
    assert [(u.file_name, u.size_bytes) for u in found] == [
        ("HCPC2026_JAN_ANWEB_v2.txt", len(synthetic("hcpcs_anweb_synthetic.txt"))),
        ("MCR_MUE_PractitionerServices_Eff_01-01-2026.csv", len(synthetic("mue_practitioner_synthetic.csv")))]
    only_mue = unzipped(upload, kind="mue_practitioner", max_bytes=1 << 20, too_large=lambda: Problem(413, "large"))
    assert [u.file_name for u in only_mue] == ["MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"]


def test_a_zip_member_larger_than_the_bound_stops_at_the_bound():
    upload = _zip({"ccipra-v320r0-f1.txt": b"0" * (4 << 20)}).upload()  # 4 MiB that compress to a few KB
    assert upload.size_bytes < 64 << 10
    with pytest.raises(Problem) as refused:
        unzipped(upload, kind=None, max_bytes=1 << 20, too_large=lambda: Problem(413, "too large"))
    assert refused.value.status == 413


def test_a_zip_without_cms_files_or_not_a_zip_is_a_422():
    with pytest.raises(Problem) as refused:
        unzipped(_zip({"readme.txt": b"hello"}).upload(), kind=None, max_bytes=1 << 20, too_large=lambda: None)
    assert refused.value.status == 422 and "readme.txt" in refused.value.errors[0]["detail"]
    spooler = Spooler("x.zip", max_bytes=100, too_large=lambda: Problem(413, "too large"))
    spooler.write(b"not a zip")
    with pytest.raises(Problem) as refused:
        unzipped(spooler.upload(), kind=None, max_bytes=1 << 20, too_large=lambda: None)
    assert refused.value.status == 422


def test_the_spooler_hashes_and_stops_past_its_bound():
    spooler = Spooler("f.txt", max_bytes=10, too_large=lambda: Problem(413, "too large"))
    spooler.write(b"12345")
    spooler.write(b"67890")
    upload = spooler.upload()
    assert (upload.size_bytes, upload.sha256[:12], upload.content.read()) == (10, "c775e7b757ed", b"1234567890")
    with pytest.raises(Problem):
        Spooler("f.txt", max_bytes=10, too_large=lambda: Problem(413, "too large")).write(b"12345678901")
