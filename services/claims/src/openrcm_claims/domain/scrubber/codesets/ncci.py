"""Medicare NCCI edits: procedure-to-procedure (PTP) pairs and medically unlikely edits (MUE).

CMS publishes both every quarter, separately for practitioners (837P) and for hospital outpatient
services (837I), at https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits
(public domain; the CPT codes inside are the AMA's, no descriptors are included). The files are
large and change every quarter, so none is shipped: the service loads the current ones with the
functions below. data/synthetic/ holds small, made-up extracts in the same layouts for the tests.

PTP file layout (ccipra/ccioph "...-f1.txt" .. "-f4.txt", tab-delimited; the .xlsx copies saved as
CSV have the same columns). A few notice/header lines come first, then one edit per line:
  Column 1 | Column 2 | * = in existence prior to 1996 | Effective Date (YYYYMMDD) |
  Deletion Date (YYYYMMDD, "*" = no deletion) | Modifier indicator (0 not allowed, 1 allowed,
  9 not applicable) | PTP Edit Rationale
The deletion date is the last date of service the edit applies to (deleted edits end on the last
day of a quarter). If a claim reports both codes for the same date of service, the column 2 code
is denied, unless the modifier indicator is 1 and an NCCI PTP-associated modifier is reported.
(NCCI Policy Manual for Medicare Services, Chapter I; "How to Use the NCCI Tools".)

MUE file layout (MCR_MUE_PractitionerServices_Eff_<date>.csv and the hospital/DME ones, CSV):
notice lines, then a header row, then
  HCPCS/CPT Code | <kind> MUE Values | MUE Adjudication Indicator ("1 Line Edit",
  "2 Date of Service Edit: Policy", "3 Date of Service Edit: Clinical") | MUE Rationale
MAI 1 applies to each claim line; MAI 2 and 3 to the units of the code summed over the date of
service (Medicare Program Integrity Manual ch. 3 and the MUE page above).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from openrcm_claims.domain.scrubber.codesets.invalid import CodeSetFileInvalid
from openrcm_shared.codes import PROCEDURE_CODE

_BASE = date(1990, 1, 1).toordinal()  # PTP effective dates start at 19960101
_NO_DELETION = (1 << 17) - 1
INDICATOR_NOT_ALLOWED = 0
INDICATOR_ALLOWED = 1
INDICATOR_NOT_APPLICABLE = 9

Source = str | Path | io.TextIOBase


def _lines(source: Source) -> Iterable[str]:
    if isinstance(source, io.TextIOBase):  # line by line: a quarter's practitioner file is tens of MB
        for line in source:
            yield line.rstrip("\r\n")
    elif isinstance(source, Path) or (isinstance(source, str) and "\n" not in source):
        with open(source, encoding="latin-1", newline="") as handle:
            for line in handle:
                yield line.rstrip("\r\n")
    else:
        yield from source.splitlines()


def _fields(line: str) -> list[str]:
    if "\t" in line:
        return [field.strip().strip('"').strip() for field in line.split("\t")]
    return [field.strip() for field in next(csv.reader([line]), [])]


def _date(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


@dataclass(frozen=True)
class PtpEdit:
    column1: str
    column2: str
    effective: date
    deletion: date | None  # last date of service the edit applies to
    modifier_indicator: int
    rationale: str


class PtpEdits:
    """Edits keyed by column 1 + column 2 code; each value packs effective day, deletion day,
    modifier indicator and rationale into one int (a real practitioner file has ~2 million rows)."""

    def __init__(self, label: str = "no PTP edits loaded"):
        self.label = label
        self._edits: dict[str, int | tuple[int, ...]] = {}
        self._rationales: list[str] = []
        self._rationale_index: dict[str, int] = {}
        self.column1: set[str] = set()
        self.column2: set[str] = set()

    def __len__(self) -> int:
        return sum(1 if isinstance(v, int) else len(v) for v in self._edits.values())

    def add(self, edit: PtpEdit) -> None:
        if edit.modifier_indicator not in (INDICATOR_NOT_ALLOWED, INDICATOR_ALLOWED):
            return  # 9: the edit never applies (it was deleted retroactively)
        rationale = self._rationale_index.get(edit.rationale)
        if rationale is None:
            if len(self._rationales) > 0xFFF:
                raise ValueError("more than 4096 distinct PTP rationales")
            rationale = self._rationale_index[edit.rationale] = len(self._rationales)
            self._rationales.append(edit.rationale)
        deletion = _NO_DELETION if edit.deletion is None else edit.deletion.toordinal() - _BASE
        effective = max(0, edit.effective.toordinal() - _BASE)
        packed = (effective << 31) | (deletion << 14) | (edit.modifier_indicator << 12) | rationale
        key = edit.column1 + edit.column2
        self.column1.add(edit.column1)
        self.column2.add(edit.column2)
        existing = self._edits.get(key)
        if existing is None:
            self._edits[key] = packed
        elif isinstance(existing, int):
            self._edits[key] = (existing, packed)
        else:
            self._edits[key] = (*existing, packed)

    def find(self, column1: str, column2: str, day_ordinal: int) -> tuple[int, str] | None:
        """(modifier indicator, rationale) of the edit in force on that day, or None."""
        packed = self._edits.get(column1 + column2)
        if packed is None:
            return None
        day = day_ordinal - _BASE
        for value in ((packed,) if isinstance(packed, int) else packed):
            if (value >> 31) <= day <= ((value >> 14) & _NO_DELETION):
                return (value >> 12) & 0b11, self._rationales[value & 0xFFF]
        return None

    def __bool__(self) -> bool:
        return bool(self._edits)


def load_ptp_files(*sources: Source, label: str, since: date | None = None) -> PtpEdits:
    """Load one or more PTP files (the practitioner set comes as four). Lines that are not edits
    (notices, headers, blank lines) are skipped. `since` drops edits deleted before that date."""
    edits = PtpEdits(label)
    for source in sources:
        for number, line in enumerate(_lines(source), 1):
            fields = _fields(line)
            if len(fields) < 6 or not PROCEDURE_CODE.match(fields[0]) or not PROCEDURE_CODE.match(fields[1]):
                continue
            if len(fields[3]) != 8 or not fields[3].isdigit():
                continue
            try:
                edit = _ptp_edit(fields)
            except ValueError as invalid:
                raise CodeSetFileInvalid(f"not a PTP edit row ({invalid})", number) from None
            if edit.deletion is not None and since is not None and edit.deletion < since:
                continue
            edits.add(edit)
    if not edits:
        raise CodeSetFileInvalid(f"{label}: no PTP edit rows found")
    return edits


def _ptp_edit(fields: list[str]) -> PtpEdit:
    """One edit row: column 1, column 2, *, effective date, deletion date, modifier indicator, rationale."""
    deletion = None if fields[4] in ("*", "") else _date(fields[4])
    if not fields[5][:1].isdigit():
        raise ValueError(f"modifier indicator {fields[5]!r} is not 0, 1 or 9")
    return PtpEdit(fields[0], fields[1], _date(fields[3]), deletion, int(fields[5][:1]),
                   fields[6] if len(fields) > 6 else "")


@dataclass(frozen=True)
class MueEntry:
    code: str
    max_units: int
    indicator: int  # MAI: 1 line edit, 2 date of service (policy), 3 date of service (clinical)
    rationale: str


class MueTable:
    def __init__(self, entries: dict[str, MueEntry] | None = None, label: str = "no MUE table loaded"):
        self.entries = entries or {}
        self.label = label

    def get(self, code: str) -> MueEntry | None:
        return self.entries.get(code)

    def __bool__(self) -> bool:
        return bool(self.entries)


def load_mue_files(*sources: Source, label: str) -> MueTable:
    entries: dict[str, MueEntry] = {}
    for source in sources:
        for line in _lines(source):
            fields = _fields(line)
            if len(fields) < 3 or not PROCEDURE_CODE.match(fields[0]) or not fields[1].isdigit():
                continue
            indicator = fields[2][:1]
            if indicator not in ("1", "2", "3"):
                continue
            entries[fields[0]] = MueEntry(fields[0], int(fields[1]), int(indicator),
                                          fields[3] if len(fields) > 3 else "")
    if not entries:
        raise CodeSetFileInvalid(f"{label}: no MUE rows found")
    return MueTable(entries, label)
