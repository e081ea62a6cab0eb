"""HCPCS Level II validity from the CMS alpha-numeric HCPCS file.

No maintained PyPI package ships the CMS HCPCS Level II file, so nothing real is bundled: the
service loads the file CMS publishes every quarter ("HCPC<YYYY>_<MON>_ANWEB.txt" inside the
"Alpha-Numeric HCPCS File" zip, https://www.cms.gov/medicare/coding-billing/healthcare-common-procedure-system/quarterly-update)
with `load_hcpcs_file`. Without it, Level II codes are checked for format only. The tests use a
small synthetic extract in the same layout (data/synthetic/hcpcs_anweb_synthetic.txt).

Record layout (HCPC<YYYY>_recordlayout.txt, 320 characters per record, positions 1-based):
  1-5    HCPCS code (for modifier records: 1-3 blank, 4-5 the modifier)
  6-10   sequence number
  11     record identification code: 3 first line of a procedure, 4 its continuation,
         7 first line of a modifier, 8 its continuation
  12-91  long description, 92-119 short description
  230    coverage code, ...
  269-276 code added date (YYYYMMDD), 277-284 action effective date,
  285-292 termination date (last date the code may be used; blank if active), 293 action code
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from openrcm_claims.domain.scrubber.codesets.invalid import CodeSetFileInvalid
from openrcm_shared.codes import MODIFIER, PROCEDURE_CODE

_FIRST_PROCEDURE_LINE = "3"
_FIRST_MODIFIER_LINE = "7"
_MIN = date.min.toordinal()
_MAX = date.max.toordinal()


def _yyyymmdd(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{text!r} is not a YYYYMMDD date")
    return date(int(text[:4]), int(text[4:6]), int(text[6:])).toordinal()


@dataclass(frozen=True)
class HcpcsEntry:
    code: str
    added: int  # date ordinal, first date of service
    terminated: int  # date ordinal, last date of service (date.max when active)
    action: str
    # The long description's first line (positions 12-91): a procedure in words for patient statements.
    description: str = ""

    def valid_on(self, ordinal: int) -> bool:
        return self.added <= ordinal <= self.terminated


class HcpcsCodeSet:
    def __init__(self, codes: dict[str, HcpcsEntry], modifiers: dict[str, HcpcsEntry], label: str):
        self.codes = codes
        self.modifiers = modifiers
        self.label = label

    def is_valid(self, code: str, day: date) -> bool:
        entry = self.codes.get(code)
        return entry is not None and entry.valid_on(day.toordinal())

    def entry(self, code: str) -> HcpcsEntry | None:
        return self.codes.get(code)

    def description(self, code: str) -> str | None:
        """The code's long description as CMS publishes it (None: not a Level II code in the file)."""
        entry = self.codes.get(code)
        return entry.description or None if entry is not None else None

    def __repr__(self) -> str:
        return f"HcpcsCodeSet({self.label}, {len(self.codes)} codes, {len(self.modifiers)} modifiers)"


def load_hcpcs_file(source: str | Path | io.TextIOBase, *, label: str = "CMS HCPCS file") -> HcpcsCodeSet:
    """Parse the fixed-width CMS alpha-numeric HCPCS file (continuation lines are skipped)."""
    if isinstance(source, Path):
        text = source.read_text(encoding="latin-1")
    elif isinstance(source, str):
        text = Path(source).read_text(encoding="latin-1") if "\n" not in source else source
    else:
        text = source.read()
    codes: dict[str, HcpcsEntry] = {}
    modifiers: dict[str, HcpcsEntry] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        if len(raw) < 11:
            continue
        kind = raw[10]
        if kind not in (_FIRST_PROCEDURE_LINE, _FIRST_MODIFIER_LINE):
            continue
        try:
            _record(raw.ljust(320), kind, codes, modifiers)
        except ValueError as invalid:
            raise CodeSetFileInvalid(str(invalid), number) from None
    if not codes:
        raise CodeSetFileInvalid("no procedure records found: not a CMS alpha-numeric HCPCS file")
    return HcpcsCodeSet(codes, modifiers, label)


def _record(record: str, kind: str, codes: dict[str, HcpcsEntry], modifiers: dict[str, HcpcsEntry]) -> None:
    """One first line of a procedure or modifier record, into `codes` or `modifiers`."""
    added = _yyyymmdd(record[268:276])
    terminated = _yyyymmdd(record[284:292])
    action = record[292].strip()
    if kind == _FIRST_PROCEDURE_LINE:
        code = record[0:5]
        if not PROCEDURE_CODE.match(code):
            raise ValueError(f"{code!r} is not a HCPCS code")
        codes[code] = HcpcsEntry(code, added or _MIN, terminated or _MAX, action, record[11:91].strip())
    else:
        code = record[3:5]
        if not MODIFIER.match(code):
            raise ValueError(f"{code!r} is not a modifier")
        modifiers[code] = HcpcsEntry(code, added or _MIN, terminated or _MAX, action)
