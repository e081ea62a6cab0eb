"""Lookups in the CARC and RARC lists shipped as package data (carc.csv, rarc.csv).

Each list is read from the installed package once, on first use, and kept as an immutable mapping;
every later lookup is a dict access. Lookups never touch the network or the file system again.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Literal, Mapping

from openrcm_shared.codesets.version import LISTING_DATE

Status = Literal["current", "tobe", "deactivated"]


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """One code of an external code list, as X12 publishes it."""

    code: str
    description: str
    start_date: date | None
    stop_date: date | None
    last_modified: date | None
    # "tobe" is X12's "to be deactivated": still valid, with a stop date announced.
    status: Status

    @property
    def is_alert(self) -> bool:
        """RARC 'Alert:' codes are informational and never explain an adjustment amount."""
        return self.description.startswith("Alert:")


def _parse_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _data_lines(handle):
    # The CSVs open with '#' lines that record provenance; csv itself has no comment syntax.
    return (line for line in handle if not line.startswith("#"))


@cache
def _load(list_name: str) -> Mapping[str, CodeEntry]:
    data_file = resources.files("openrcm_shared.codesets").joinpath(f"{list_name}.csv")
    with data_file.open(encoding="utf-8", newline="") as handle:
        entries = {
            row["code"]: CodeEntry(
                code=row["code"],
                description=row["description"],
                start_date=_parse_date(row["start_date"]),
                stop_date=_parse_date(row["stop_date"]),
                last_modified=_parse_date(row["last_modified"]),
                status=row["status"],
            )
            for row in csv.DictReader(_data_lines(handle))
        }
    return MappingProxyType(entries)


def _normalize(code: str) -> str:
    # CAS and LQ elements arrive upper-case, but hand-keyed codes ("ma01 ") do not.
    return code.strip().upper()


def carc(code: str) -> CodeEntry | None:
    """The Claim Adjustment Reason Code (CAS02/05/..., code source 139), or None if unknown."""
    return _load("carc").get(_normalize(code))


def rarc(code: str) -> CodeEntry | None:
    """The Remittance Advice Remark Code (LQ02, MIA/MOA remarks, code source 411), or None."""
    return _load("rarc").get(_normalize(code))


def all_carc() -> tuple[CodeEntry, ...]:
    """Every CARC we ship, retired ones included, in list order."""
    return tuple(_load("carc").values())


def all_rarc() -> tuple[CodeEntry, ...]:
    """Every RARC we ship, retired ones included, in list order."""
    return tuple(_load("rarc").values())


def is_valid_on(entry: CodeEntry, on: date) -> bool:
    """Whether a remittance may carry this code on the given date.

    X12 code lists change on their publication dates: a code is usable from its start date and no
    longer usable from its stop date (start <= on < stop). A code the newest listing marks
    deactivated without a stop date in our sources is treated as stopped on LISTING_DATE, the last
    day we can prove it was already retired; an unknown start date places no lower bound.
    """
    if entry.start_date is not None and on < entry.start_date:
        return False
    if entry.stop_date is not None:
        return on < entry.stop_date
    if entry.status == "deactivated":
        return on < LISTING_DATE
    return True
