"""Loading CMS's quarterly code-set files named in the settings (or found in a directory) into
the scrubber's `CodeSets`, with a count of what each file gave, for the start-up log.

A configured file that cannot be read or parsed stops the load (the service does not scrub
against half its edits): the error names the setting and the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from openrcm_claims.domain.scrubber import (
    CodeSets, load_hcpcs_file, load_mue_files, load_order_file, load_ptp_files,
)
from openrcm_claims.domain.scrubber.codesets import shipped_code_set
from openrcm_claims.settings import CodeSetSettings

# icd10cm_order_2027.txt: fiscal year 2027, in force from October 1, 2026.
_ORDER_FILE_YEAR = re.compile(r"(20[0-9]{2})")


class CodeSetFileError(ValueError):
    """A configured code-set file is missing or is not the CMS layout its setting expects."""


@dataclass(frozen=True)
class CodeSetFiles:
    hcpcs: Path | None = None
    ptp_practitioner: tuple[Path, ...] = ()
    ptp_hospital: tuple[Path, ...] = ()
    mue_practitioner: Path | None = None
    mue_hospital: Path | None = None
    icd10cm_orders: tuple[Path, ...] = ()

    @property
    def configured(self) -> bool:
        return any((self.hcpcs, self.ptp_practitioner, self.ptp_hospital, self.mue_practitioner, self.mue_hospital,
                    self.icd10cm_orders))


@dataclass
class LoadReport:
    """What was loaded, for the start-up log: counts per code set and the files they came from."""

    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)


def _paths(value: str | None) -> tuple[Path, ...]:
    return tuple(Path(part.strip()) for part in (value or "").split(",") if part.strip())


def _found(directory: Path | None, pattern: str) -> list[Path]:
    if directory is None:
        return []
    wanted = re.compile(pattern, re.IGNORECASE)
    return sorted(path for path in directory.iterdir() if path.is_file() and wanted.fullmatch(path.name))


def discover(settings: CodeSetSettings) -> CodeSetFiles:
    """The files to load: each file setting, else what the directory holds under CMS's names."""
    directory = Path(settings.code_set_dir) if settings.code_set_dir else None
    if directory is not None and not directory.is_dir():
        raise CodeSetFileError(f"OPENRCM_CLAIMS_CODE_SET_DIR {directory} is not a directory")

    def one(explicit: str | None, pattern: str) -> Path | None:
        if explicit:
            return Path(explicit)
        found = _found(directory, pattern)
        return found[-1] if found else None

    def many(explicit: str | None, pattern: str) -> tuple[Path, ...]:
        return _paths(explicit) or tuple(_found(directory, pattern))

    return CodeSetFiles(
        hcpcs=one(settings.hcpcs_file, r".*ANWEB.*\.txt"),
        ptp_practitioner=many(settings.ncci_ptp_files, r"ccipra.*\.txt"),
        ptp_hospital=many(settings.ncci_ptp_hospital_files, r"ccioph.*\.txt"),
        mue_practitioner=one(settings.mue_file, r".*MUE.*Practitioner.*\.csv"),
        mue_hospital=one(settings.mue_hospital_file, r".*MUE.*Hospital.*\.csv"),
        icd10cm_orders=many(settings.icd10cm_order_files, r"icd10cm_order_20[0-9]{2}\.txt"),
    )


def _checked(path: Path, setting: str) -> Path:
    if not path.is_file():
        raise CodeSetFileError(f"{setting}: {path} is not a readable file")
    return path


def order_file_effective(path: Path) -> date:
    """The first day of the fiscal year an ICD-10-CM order file is named for (FY N starts October 1, N-1)."""
    match = _ORDER_FILE_YEAR.search(path.name)
    if match is None:
        raise CodeSetFileError(f"OPENRCM_CLAIMS_ICD10CM_ORDER_FILES: {path.name} does not name its fiscal year "
                               "(icd10cm_order_<YYYY>.txt)")
    return date(int(match.group(1)) - 1, 10, 1)


def load_code_sets(files: CodeSetFiles) -> tuple[CodeSets, LoadReport]:
    """The shipped code sets plus every configured CMS file; raises CodeSetFileError naming the
    setting and file that could not be loaded."""
    report = LoadReport()
    try:
        hcpcs = None
        if files.hcpcs is not None:
            path = _checked(files.hcpcs, "OPENRCM_CLAIMS_HCPCS_FILE")
            hcpcs = load_hcpcs_file(path, label=path.name)
            report.counts["hcpcs_codes"] = len(hcpcs.codes)
            report.files["hcpcs"] = [path.name]
        ptp = {}
        for kind, paths, setting in (("practitioner", files.ptp_practitioner, "OPENRCM_CLAIMS_NCCI_PTP_FILES"),
                                     ("hospital", files.ptp_hospital, "OPENRCM_CLAIMS_NCCI_PTP_HOSPITAL_FILES")):
            if paths:
                checked = [_checked(path, setting) for path in paths]
                ptp[kind] = load_ptp_files(*checked, label=", ".join(path.name for path in checked))
                report.counts[f"ptp_{kind}_edits"] = len(ptp[kind])
                report.files[f"ptp_{kind}"] = [path.name for path in checked]
        mue = {}
        for kind, path, setting in (("practitioner", files.mue_practitioner, "OPENRCM_CLAIMS_MUE_FILE"),
                                    ("hospital", files.mue_hospital, "OPENRCM_CLAIMS_MUE_HOSPITAL_FILE")):
            if path is not None:
                mue[kind] = load_mue_files(_checked(path, setting), label=path.name)
                report.counts[f"mue_{kind}_codes"] = len(mue[kind].entries)
                report.files[f"mue_{kind}"] = [path.name]
        icd10cm = None
        if files.icd10cm_orders:
            releases = [load_order_file(_checked(path, "OPENRCM_CLAIMS_ICD10CM_ORDER_FILES"),
                                        effective=order_file_effective(path)) for path in files.icd10cm_orders]
            icd10cm = shipped_code_set().plus(*releases)
            report.counts["icd10cm_order_file_codes"] = sum(len(release.billable) for release in releases)
            report.files["icd10cm_order"] = [path.name for path in files.icd10cm_orders]
    except (OSError, ValueError) as failed:
        if isinstance(failed, CodeSetFileError):
            raise
        raise CodeSetFileError(f"a configured CMS code-set file could not be loaded: {failed}") from failed
    code_sets = CodeSets.shipped(
        icd10cm=icd10cm, hcpcs=hcpcs, ptp_practitioner=ptp.get("practitioner"), ptp_hospital=ptp.get("hospital"),
        mue_practitioner=mue.get("practitioner"), mue_hospital=mue.get("hospital"))
    return code_sets, report
