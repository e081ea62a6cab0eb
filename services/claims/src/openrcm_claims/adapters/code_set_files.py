"""Loading CMS's quarterly code-set files named in the settings (or found in a directory) into
the scrubber's `CodeSets`, with a count of what each file gave, for the start-up log. Files
imported through the API (`code_set_store`) are taken over these kind by kind
(service_layer/code_sets_in_force.py).

A configured file that cannot be read or parsed stops the load (the service does not scrub
against half its edits): the error names the setting and the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from openrcm_claims.domain.scrubber import CodeSets
from openrcm_claims.domain.scrubber.codesets import Icd10CmRelease, shipped_code_set
from openrcm_claims.domain.scrubber.codesets import cms_files
from openrcm_claims.domain.scrubber.codesets.cms_files import KINDS, assemble_code_sets, load_cms_file
from openrcm_claims.settings import CodeSetSettings


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

    def named(kind: str) -> str:
        return KINDS[kind].name_pattern

    return CodeSetFiles(
        hcpcs=one(settings.hcpcs_file, named(cms_files.HCPCS)),
        ptp_practitioner=many(settings.ncci_ptp_files, named(cms_files.PTP_PRACTITIONER)),
        ptp_hospital=many(settings.ncci_ptp_hospital_files, named(cms_files.PTP_HOSPITAL)),
        mue_practitioner=one(settings.mue_file, named(cms_files.MUE_PRACTITIONER)),
        mue_hospital=one(settings.mue_hospital_file, named(cms_files.MUE_HOSPITAL)),
        icd10cm_orders=many(settings.icd10cm_order_files, named(cms_files.ICD10CM_ORDER)),
    )


def _checked(path: Path, setting: str) -> Path:
    if not path.is_file():
        raise CodeSetFileError(f"{setting}: {path} is not a readable file")
    return path


def order_file_effective(path: Path) -> date:
    """The first day of the fiscal year an ICD-10-CM order file is named for (FY N starts October 1, N-1)."""
    effective = cms_files.order_file_effective(path.name)
    if effective is None:
        raise CodeSetFileError(f"OPENRCM_CLAIMS_ICD10CM_ORDER_FILES: {path.name} does not name its fiscal year "
                               "(icd10cm_order_<YYYY>.txt)")
    return effective


@dataclass(frozen=True)
class ConfiguredCodeSets:
    """The configured files loaded, per kind (`cms_files` kinds; ICD-10-CM order files as releases)."""

    loaded: dict[str, object]
    icd10cm_releases: tuple[Icd10CmRelease, ...]
    report: LoadReport


# kind -> (its setting, the start-up log's name for its count, the loader's count it is)
_SETTINGS = {
    cms_files.HCPCS: ("OPENRCM_CLAIMS_HCPCS_FILE", "hcpcs_codes", "codes"),
    cms_files.PTP_PRACTITIONER: ("OPENRCM_CLAIMS_NCCI_PTP_FILES", "ptp_practitioner_edits", "edits"),
    cms_files.PTP_HOSPITAL: ("OPENRCM_CLAIMS_NCCI_PTP_HOSPITAL_FILES", "ptp_hospital_edits", "edits"),
    cms_files.MUE_PRACTITIONER: ("OPENRCM_CLAIMS_MUE_FILE", "mue_practitioner_codes", "codes"),
    cms_files.MUE_HOSPITAL: ("OPENRCM_CLAIMS_MUE_HOSPITAL_FILE", "mue_hospital_codes", "codes"),
}


def _files_of(files: CodeSetFiles, kind: str) -> tuple[Path, ...]:
    value = getattr(files, kind)
    return value if isinstance(value, tuple) else (() if value is None else (value,))


def load_configured(files: CodeSetFiles) -> ConfiguredCodeSets:
    """Every configured CMS file loaded; raises CodeSetFileError naming the setting and file that
    could not be loaded."""
    report = LoadReport()
    loaded: dict[str, object] = {}
    try:
        for kind, (setting, count_key, count_name) in _SETTINGS.items():
            paths = [_checked(path, setting) for path in _files_of(files, kind)]
            if not paths:
                continue
            loaded[kind] = load_cms_file(kind, *paths, label=", ".join(path.name for path in paths),
                                         effective=date.min)
            report.counts[count_key] = cms_files.counts_of(kind, loaded[kind])[count_name]
            report.files[kind] = [path.name for path in paths]
        releases = tuple(load_cms_file(cms_files.ICD10CM_ORDER, _checked(path, "OPENRCM_CLAIMS_ICD10CM_ORDER_FILES"),
                                       label=path.name, effective=order_file_effective(path))
                         for path in files.icd10cm_orders)
        if releases:
            report.counts["icd10cm_order_file_codes"] = sum(len(release.billable) for release in releases)
            report.files["icd10cm_order"] = [path.name for path in files.icd10cm_orders]
    except (OSError, ValueError) as failed:
        if isinstance(failed, CodeSetFileError):
            raise
        raise CodeSetFileError(f"a configured CMS code-set file could not be loaded: {failed}") from failed
    return ConfiguredCodeSets(loaded, releases, report)


def load_code_sets(files: CodeSetFiles) -> tuple[CodeSets, LoadReport]:
    """The shipped code sets plus every configured CMS file; raises CodeSetFileError naming the
    setting and file that could not be loaded."""
    configured = load_configured(files)
    icd10cm = shipped_code_set().plus(*configured.icd10cm_releases) if configured.icd10cm_releases else None
    return assemble_code_sets(configured.loaded, icd10cm), configured.report
