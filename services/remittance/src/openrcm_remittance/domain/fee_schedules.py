"""Contracted fee schedules: what a payer agreed to allow per procedure, and how far a payment fell short.

Plain Python over Decimal (no I/O): reading a schedule's CSV, choosing the row that applies to a claim
line, and assessing the variance between the payer's allowed amount and the contracted one.

Choices (the payer contract decides these in real life; these are our defaults, in one place):

* A row applies from `effective_from` to `effective_to`, both inclusive; an empty `effective_to` is
  open-ended. Within one upload, two rows for the same procedure code and modifier may not overlap in
  time, so at most one row can apply on a date of service.
* Matching: the line's modifiers are tried in the order the claim lists them (pricing modifiers such
  as 26, TC or 50 are conventionally reported first), then the row without a modifier. The first row
  that applies on the date of service wins. So a line 99213-25 with no row for modifier 25 is priced
  at the plain 99213 rate: informational modifiers do not change the price.
* The allowed amount in a schedule is per unit: the contracted amount of a line is rate x units,
  rounded half up to the cent (as remittance advice rounds). Rates may have up to four decimal places
  (drug rates per HCPCS billing unit are published with more than two, e.g. CMS's quarterly ASP
  pricing files); the contracted amount, being money, has two.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from openrcm_shared.codes import MODIFIER, PROCEDURE_CODE
from openrcm_shared.money import ZERO, to_cents

COLUMNS = ("procedure_code", "modifier", "allowed_amount", "effective_from", "effective_to")
RATE_DECIMAL_PLACES = 4
RATE_MAX_DIGITS = 14  # NUMERIC(14, 4): up to 9,999,999,999.9999 per unit
_RATE_LIMIT = Decimal(10) ** (RATE_MAX_DIGITS - RATE_DECIMAL_PLACES)
MAX_REPORTED_ERRORS = 100  # a broken 50,000-line file gets a readable answer, not 50,000 errors


# -- the schedule ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeeScheduleRow:
    """One contracted rate: procedure (+ modifier) -> allowed amount per unit, over a span of dates."""

    procedure_code: str
    modifier: str | None
    allowed_amount: Decimal  # per unit
    effective_from: date
    effective_to: date | None = None
    line_number: int | None = None  # where it was in the uploaded CSV (header = line 1)

    def applies_on(self, service_date: date) -> bool:
        return self.effective_from <= service_date and (self.effective_to is None or service_date <= self.effective_to)


@dataclass(frozen=True, slots=True)
class LineKey:
    """What prices a claim line: procedure (SVC01-2), modifiers (SVC01-3..6), date of service, units (SVC05)."""

    procedure_code: str
    modifiers: tuple[str, ...]
    service_date: date
    units: Decimal


def contracted_amount(rate: FeeScheduleRow, units: Decimal) -> Decimal:
    return to_cents(rate.allowed_amount * units)


class ContractedRates:
    """The rows of a payer's schedule in force, indexed for matching many lines at once."""

    def __init__(self, rows: Iterable[FeeScheduleRow], *, payer_id: str | None = None,
                 variance_tolerance: Decimal = ZERO, version: int | None = None,
                 version_id: UUID | None = None) -> None:
        self.payer_id = payer_id
        self.variance_tolerance = variance_tolerance
        self.version = version
        self.version_id = version_id
        self._rows: dict[tuple[str, str | None], list[FeeScheduleRow]] = defaultdict(list)
        for row in rows:
            self._rows[(row.procedure_code, row.modifier or None)].append(row)

    @property
    def has_rates(self) -> bool:
        """False when the payer has no schedule in force for the lines asked about: nothing to compare."""
        return bool(self._rows)

    def rate_for(self, procedure_code: str, modifiers: Sequence[str], service_date: date) -> FeeScheduleRow | None:
        """The row that prices this procedure on this date: see the module docstring for the order."""
        code = procedure_code.strip().upper()
        for modifier in (*[m.strip().upper() for m in modifiers if m and m.strip()], None):
            for row in self._rows.get((code, modifier), ()):
                if row.applies_on(service_date):
                    return row
        return None

    def contracted_amount(self, line: LineKey) -> Decimal | None:
        """rate x units for this line, or None: no rate applies, or the units are not positive (a reversal
        or a malformed line prices at nothing rather than at zero)."""
        if line.service_date is None or line.units is None or line.units <= ZERO:
            return None
        rate = self.rate_for(line.procedure_code, line.modifiers, line.service_date)
        return None if rate is None else contracted_amount(rate, line.units)


# -- variances ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostedLineFacts:
    """What was posted for one service line (SVC loop), as the variance check needs it."""

    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...]
    service_date: date
    units: Decimal
    allowed_amount: Decimal  # the payer's allowed amount for the line (AMT*B6, or paid + patient share)
    paid_amount: Decimal


@dataclass(frozen=True, slots=True)
class LineVariance:
    line: PostedLineFacts
    contracted_amount: Decimal
    variance_amount: Decimal  # contracted - allowed: positive is an underpayment, negative an overpayment
    beyond_tolerance: bool  # an underpayment larger than the payer's tolerance: worth an event

    @property
    def kind(self) -> str:
        return "underpayment" if self.variance_amount > ZERO else "overpayment"


def assess_variance(line: PostedLineFacts, contracted: Decimal | None,
                    tolerance: Decimal = ZERO) -> LineVariance | None:
    """The variance of one posted line against its contracted amount, or None when there is none to record.

    A line allowed at zero or less is a denial or a reversal, not an underpayment: denials are worked
    from ClaimDenied, and counting them here too would report the same dollars twice.
    """
    if contracted is None or line.allowed_amount <= ZERO:
        return None
    variance = contracted - line.allowed_amount
    if variance == ZERO:
        return None
    return LineVariance(line, contracted, variance, beyond_tolerance=variance > tolerance)


# -- reading the CSV ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CsvError:
    """A fault in an uploaded schedule: JSON pointer (/rows/<index>/<column>, index from 0 over the data
    rows), the physical CSV line (header = 1) and the column, so both a program and a person find it."""

    pointer: str
    detail: str
    line: int | None = None
    column: str | None = None


class FeeScheduleInvalid(ValueError):
    def __init__(self, errors: list[CsvError], total: int) -> None:
        super().__init__(f"{total} error(s) in the fee schedule")
        self.errors = errors
        self.total = total


class _Errors:
    def __init__(self) -> None:
        self.kept: list[CsvError] = []
        self.total = 0

    def add(self, error: CsvError) -> None:
        self.total += 1
        if len(self.kept) < MAX_REPORTED_ERRORS:
            self.kept.append(error)


_DECIMAL_TEXT = re.compile(r"^[0-9]+(\.[0-9]+)?$|^\.[0-9]+$")


def parse_rate(text: str) -> Decimal:
    """A per-unit allowed amount: plain decimal, not negative, at most four decimal places."""
    if not text:
        raise ValueError("required")
    if not _DECIMAL_TEXT.match(text):
        raise ValueError("must be a plain decimal such as 125.00 (no currency sign, sign or exponent)")
    amount = Decimal(text)  # the pattern admits only what Decimal reads
    if -amount.as_tuple().exponent > RATE_DECIMAL_PLACES:
        raise ValueError(f"at most {RATE_DECIMAL_PLACES} decimal places")
    # Compared, not quantized: quantizing a number of more digits than the decimal context holds (28)
    # raises InvalidOperation instead of telling the row is too large.
    if amount >= _RATE_LIMIT:
        raise ValueError("too large")
    return amount


def _parse_date(text: str, *, required: bool) -> date | None:
    if not text:
        if required:
            raise ValueError("required")
        return None
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("not a calendar date") from None


def _header_columns(header: list[str], line: int, errors: _Errors) -> dict[str, int] | None:
    names = [cell.strip().lower() for cell in header]
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        if name not in COLUMNS:
            errors.add(CsvError(f"/header/{index}", f"unknown column {name!r}; the columns are {', '.join(COLUMNS)}",
                                line, name))
        elif name in positions:
            errors.add(CsvError(f"/header/{index}", f"column {name!r} appears twice", line, name))
        else:
            positions[name] = index
    missing = [name for name in COLUMNS if name not in positions]
    if missing:
        errors.add(CsvError("/header", f"missing column(s): {', '.join(missing)}", line))
    return None if errors.total else positions


def _parse_row(cells: list[str], positions: dict[str, int], index: int, line: int,
               errors: _Errors) -> FeeScheduleRow | None:
    if len(cells) != len(positions):
        errors.add(CsvError(f"/rows/{index}", f"line {line} has {len(cells)} fields; the header has "
                                              f"{len(positions)}", line))
        return None
    value = {name: cells[position].strip() for name, position in positions.items()}
    parsed: dict[str, object] = {}
    failed = False
    for name, check in _CELL_CHECKS.items():
        try:
            parsed[name] = check(value[name])
        except ValueError as exc:
            errors.add(CsvError(f"/rows/{index}/{name}", f"line {line}, {name}: {exc}", line, name))
            failed = True
    if failed:
        return None
    row = FeeScheduleRow(line_number=line, **parsed)  # type: ignore[arg-type]
    if row.effective_to is not None and row.effective_to < row.effective_from:
        errors.add(CsvError(f"/rows/{index}/effective_to", f"line {line}, effective_to: before effective_from "
                                                          f"{row.effective_from}", line, "effective_to"))
        return None
    return row


def _code(text: str, pattern: re.Pattern, example: str) -> str:
    if not text:
        raise ValueError("required")
    if not pattern.match(text):
        raise ValueError(f"must be {example}")
    return text


# Each column's check: the cell's text -> its value, or ValueError saying what is wrong.
_CELL_CHECKS = {
    "procedure_code": lambda text: _code(text.upper(), PROCEDURE_CODE, "a CPT or HCPCS code such as 99213 or J1100"),
    "modifier": lambda text: _code(text.upper(), MODIFIER, "two letters or digits such as 26") if text else None,
    "allowed_amount": parse_rate,
    "effective_from": lambda text: _parse_date(text, required=True),
    "effective_to": lambda text: _parse_date(text, required=False),
}


def _overlaps(rows: list[tuple[int, FeeScheduleRow]], errors: _Errors) -> None:
    """Two rows for the same procedure and modifier may not both apply on one date."""
    by_key: dict[tuple[str, str | None], list[tuple[int, FeeScheduleRow]]] = defaultdict(list)
    for index, row in rows:
        by_key[(row.procedure_code, row.modifier)].append((index, row))
    for spans in by_key.values():
        spans.sort(key=lambda item: (item[1].effective_from, item[0]))
        for (_, earlier), (index, later) in zip(spans, spans[1:]):
            if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                until = earlier.effective_to.isoformat() if earlier.effective_to else "open-ended"
                errors.add(CsvError(
                    f"/rows/{index}/effective_from",
                    f"line {later.line_number}, effective_from: overlaps line {earlier.line_number} (same "
                    f"procedure_code and modifier, effective {earlier.effective_from} to {until})",
                    later.line_number, "effective_from"))


def parse_fee_schedule_csv(text: str) -> list[FeeScheduleRow]:
    """The rows of an uploaded schedule, or FeeScheduleInvalid listing every fault (the first 100).

    Blank lines are skipped; a byte-order mark (as spreadsheet exports write) is the caller's to strip.
    """
    errors = _Errors()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    positions: dict[str, int] | None = None
    header_seen = False
    parsed: list[tuple[int, FeeScheduleRow]] = []
    index = -1
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if not header_seen:
                header_seen = True
                positions = _header_columns(cells, reader.line_num, errors)
                if positions is None:
                    break
                continue
            index += 1
            row = _parse_row(cells, positions, index, reader.line_num, errors)
            if row is not None:
                parsed.append((index, row))
    except csv.Error as exc:
        errors.add(CsvError(f"/rows/{index + 1}", f"line {reader.line_num}: not valid CSV ({exc})", reader.line_num))
    if not header_seen:
        errors.add(CsvError("/header", f"empty file; the first line must be the header {','.join(COLUMNS)}", 1))
    elif positions is not None and index < 0 and not errors.total:
        errors.add(CsvError("/rows", "the schedule has no rows (an empty upload would drop every contracted rate)"))
    if not errors.total:
        _overlaps(parsed, errors)
    if errors.total:
        raise FeeScheduleInvalid(errors.kept, errors.total)
    return [row for _, row in parsed]
