"""The CMS code-set files the claims service takes, what each kind is called, when a file takes
effect, how it is parsed, and which of the versions imported are in force on a day. No I/O.

| kind | CMS file | CMS name | effective date from the name |
|---|---|---|---|
| `hcpcs` | HCPCS Level II alpha-numeric file (quarterly) | `HCPC2026_JAN_ANWEB_v2.txt` | the month named: 2026-01-01 |
| `ptp_practitioner` | NCCI PTP edits, practitioners (quarterly, four parts) | `ccipra-v320r0-f1.txt` .. `-f4` | version 32.0: 2026 Q1 |
| `ptp_hospital` | NCCI PTP edits, hospital outpatient (quarterly, parts) | `ccioph-v320r0-f1.txt` .. | the same |
| `mue_practitioner` | MUE table, practitioner services | `MCR_MUE_PractitionerServices_Eff_01-01-2026.csv` | 2026-01-01 |
| `mue_hospital` | MUE table, outpatient hospital services | `MCR_MUE_OutpatientHospitalServices_Eff_01-01-2026.csv` | 2026-01-01 |
| `icd10cm_order` | ICD-10-CM order file of a fiscal year | `icd10cm_order_2027.txt` | FY2027: 2026-10-01 |

NCCI versions count from 1994: version NN.q takes effect in quarter q+1 of year 1994+NN (CMS
publishes version 32.0 as "medicare-ncci-2026q1-...-ccipra-v320r0-f1.zip", 31.3 as 2025 Q4).
ICD-10-CM's April updates reuse the fiscal year's file name: give their effective date explicitly.

Which versions are in force (`files_in_force`): for HCPCS, PTP and MUE, the newest version whose
effective date has come (an imported file of a later quarter waits for its day). A PTP version is
the parts imported for one effective date (a part imported again replaces the earlier copy); the
others are one file per version (the last imported for a date wins). The history of dates of
service is inside those files: each PTP edit carries its effective and deletion dates and each
HCPCS code its added and termination dates, so last quarter's claims are still checked against the
edits of their dates of service. MUE values carry no dates: a claim is checked against the MUE
table in force on the day it is scrubbed. ICD-10-CM order files are releases by date of service:
every one imported is used, each from its effective date (the shipped releases cover FY2019-FY2026).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from openrcm_claims.domain.scrubber.codesets import CodeSets
from openrcm_claims.domain.scrubber.codesets.hcpcs import HcpcsCodeSet, load_hcpcs_file
from openrcm_claims.domain.scrubber.codesets.icd10cm import Icd10CmCodeSet, Icd10CmRelease, load_order_file
from openrcm_claims.domain.scrubber.codesets.invalid import CodeSetFileInvalid
from openrcm_claims.domain.scrubber.codesets.ncci import MueTable, PtpEdits, load_mue_files, load_ptp_files

HCPCS = "hcpcs"
PTP_PRACTITIONER = "ptp_practitioner"
PTP_HOSPITAL = "ptp_hospital"
MUE_PRACTITIONER = "mue_practitioner"
MUE_HOSPITAL = "mue_hospital"
ICD10CM_ORDER = "icd10cm_order"

_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_NCCI_FIRST_YEAR = 1994  # NCCI version 1.x was 1995; 32.0 is January 1, 2026
_HCPCS_NAME = re.compile(r"HCPC(?P<year>20\d\d)_(?P<month>[A-Z]{3})", re.IGNORECASE)
_NCCI_NAME = re.compile(r"v(?P<major>\d\d)(?P<minor>\d)r\d+", re.IGNORECASE)
_NCCI_PART = re.compile(r"-(?P<part>f\d+)", re.IGNORECASE)
_MUE_NAME = re.compile(r"_Eff_(?P<month>\d\d)-(?P<day>\d\d)-(?P<year>\d{4})", re.IGNORECASE)
_ORDER_NAME = re.compile(r"(?P<year>20\d\d)")


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _hcpcs_effective(name: str) -> date | None:
    match = _HCPCS_NAME.search(name)
    month = _MONTHS.get(match.group("month").upper()) if match else None
    return date(int(match.group("year")), month, 1) if month else None


def _ncci_effective(name: str) -> date | None:
    match = _NCCI_NAME.search(name)
    if match is None or int(match.group("minor")) > 3:
        return None
    return date(_NCCI_FIRST_YEAR + int(match.group("major")), 1 + 3 * int(match.group("minor")), 1)


def _mue_effective(name: str) -> date | None:
    match = _MUE_NAME.search(name)
    return _safe_date(int(match.group("year")), int(match.group("month")), int(match.group("day"))) if match else None


def order_file_effective(name: str) -> date | None:
    """The first day of the fiscal year an ICD-10-CM order file is named for (FY N starts October 1, N-1)."""
    match = _ORDER_NAME.search(name)
    return date(int(match.group("year")) - 1, 10, 1) if match else None


@dataclass(frozen=True)
class CmsFileKind:
    kind: str
    title: str
    name_pattern: str  # CMS's file name, matched whole and case-insensitively
    effective_from_name: Callable[[str], date | None]
    counts: Callable[[object], dict[str, int]]

    def matches(self, file_name: str) -> bool:
        return re.fullmatch(self.name_pattern, file_name, re.IGNORECASE) is not None


def _hcpcs_counts(hcpcs: HcpcsCodeSet) -> dict[str, int]:
    return {"codes": len(hcpcs.codes), "modifiers": len(hcpcs.modifiers)}


def _ptp_counts(edits: PtpEdits) -> dict[str, int]:
    return {"edits": len(edits)}


def _mue_counts(table: MueTable) -> dict[str, int]:
    return {"codes": len(table.entries)}


def _order_counts(release: Icd10CmRelease) -> dict[str, int]:
    return {"billable_codes": len(release.billable), "headers": len(release.headers)}


KINDS: Mapping[str, CmsFileKind] = {kind.kind: kind for kind in (
    CmsFileKind(HCPCS, "HCPCS Level II (alpha-numeric HCPCS file)", r".*ANWEB.*\.txt", _hcpcs_effective,
                _hcpcs_counts),
    CmsFileKind(PTP_PRACTITIONER, "NCCI PTP edits, practitioners (837P)", r"ccipra.*\.txt", _ncci_effective,
                _ptp_counts),
    CmsFileKind(PTP_HOSPITAL, "NCCI PTP edits, hospital outpatient (837I)", r"ccioph.*\.txt", _ncci_effective,
                _ptp_counts),
    CmsFileKind(MUE_PRACTITIONER, "MUE, practitioner services (837P)", r".*MUE.*Practitioner.*\.csv",
                _mue_effective, _mue_counts),
    CmsFileKind(MUE_HOSPITAL, "MUE, outpatient hospital services (837I)", r".*MUE.*Hospital.*\.csv",
                _mue_effective, _mue_counts),
    CmsFileKind(ICD10CM_ORDER, "ICD-10-CM order file (a fiscal year's release)", r"icd10cm_order_20[0-9]{2}\.txt",
                order_file_effective, _order_counts),
)}


def detect_kind(file_name: str) -> str | None:
    """The kind a file is by CMS's name for it (None: no CMS name)."""
    found = [kind.kind for kind in KINDS.values() if kind.matches(file_name)]
    return found[0] if len(found) == 1 else None


def effective_from_name(kind: str, file_name: str) -> date | None:
    """The date a file of this kind takes effect, read from CMS's name for it (None: the name does not say)."""
    return KINDS[kind].effective_from_name(file_name)


Source = str | Path | io.TextIOBase


def load_cms_file(kind: str, *sources: Source, label: str, effective: date) -> object:
    """One kind's code set from its file(s) (the parts of a PTP version together); raises
    CodeSetFileInvalid naming the line at fault."""
    if kind == HCPCS:
        return load_hcpcs_file(_one(sources), label=label)
    if kind in (PTP_PRACTITIONER, PTP_HOSPITAL):
        return load_ptp_files(*sources, label=label)
    if kind in (MUE_PRACTITIONER, MUE_HOSPITAL):
        return load_mue_files(*sources, label=label)
    if kind == ICD10CM_ORDER:
        return load_order_file(_one(sources), effective=effective, label=None)
    raise ValueError(f"unknown code-set kind {kind!r}")


def _one(sources: Sequence[Source]) -> Source:
    if len(sources) != 1:
        raise ValueError("this kind of code set is one file")
    return sources[0]


def counts_of(kind: str, loaded: object) -> dict[str, int]:
    """What the loader found, for the import's answer and the listing."""
    return KINDS[kind].counts(loaded)


# -- which imported versions are in force -----------------------------------------------------------


@dataclass(frozen=True)
class ImportedFile:
    """An imported file as the in-force rules see it."""

    id: int  # import order: a later import has a higher id
    kind: str
    effective_date: date
    file_name: str

    @property
    def part(self) -> str:
        """A PTP version comes in parts (-f1 .. -f4): a part imported again replaces the earlier copy."""
        if self.kind in (PTP_PRACTITIONER, PTP_HOSPITAL):
            match = _NCCI_PART.search(self.file_name)
            if match:
                return match.group("part").lower()
            return self.file_name.lower()
        return ""


def files_in_force(files: Iterable[ImportedFile], today: date) -> dict[str, tuple[int, ...]]:
    """Per kind, the ids of the imported files the scrubber uses (see the module's docstring)."""
    by_kind: dict[str, list[ImportedFile]] = {}
    for imported in files:
        by_kind.setdefault(imported.kind, []).append(imported)
    chosen: dict[str, tuple[int, ...]] = {}
    for kind, imported in by_kind.items():
        if kind == ICD10CM_ORDER:
            candidates = imported  # releases by date of service: every effective date is used
        else:
            come = [f for f in imported if f.effective_date <= today]
            if not come:
                continue
            newest = max(f.effective_date for f in come)
            candidates = [f for f in come if f.effective_date == newest]
        latest: dict[tuple[date, str], ImportedFile] = {}
        for candidate in sorted(candidates, key=lambda f: f.id):
            latest[(candidate.effective_date, candidate.part)] = candidate
        chosen[kind] = tuple(sorted(f.id for f in latest.values()))
    return chosen


def version_status(imported: ImportedFile, in_force: Mapping[str, tuple[int, ...]], today: date) -> str:
    """in_force, scheduled (its effective date has not come), superseded (a later version, or the
    same part imported again, is in force)."""
    if imported.id in in_force.get(imported.kind, ()):
        return "in_force" if imported.effective_date <= today else "scheduled"
    return "scheduled" if imported.effective_date > today else "superseded"


# -- assembling the scrubber's code sets ---------------------------------------------------------------


def assemble_code_sets(loaded: Mapping[str, object], icd10cm: Icd10CmCodeSet | None) -> CodeSets:
    """The shipped code sets with the CMS files loaded, per kind (`icd10cm`: the shipped releases
    plus the order files, or None for the shipped ones alone)."""
    return CodeSets.shipped(
        icd10cm=icd10cm, hcpcs=loaded.get(HCPCS), ptp_practitioner=loaded.get(PTP_PRACTITIONER),
        ptp_hospital=loaded.get(PTP_HOSPITAL), mue_practitioner=loaded.get(MUE_PRACTITIONER),
        mue_hospital=loaded.get(MUE_HOSPITAL))


__all__ = [
    "HCPCS", "ICD10CM_ORDER", "KINDS", "MUE_HOSPITAL", "MUE_PRACTITIONER", "PTP_HOSPITAL", "PTP_PRACTITIONER",
    "CmsFileKind", "CodeSetFileInvalid", "ImportedFile", "assemble_code_sets", "counts_of", "detect_kind",
    "effective_from_name", "files_in_force", "load_cms_file", "order_file_effective", "version_status",
]
