"""Matching what a payer paid to what we billed.

A claim is found by CLP01, which echoes the patient control number we sent in CLM01. Its lines are
found by REF*6R, which echoes the line item control number we sent in the 837's REF*6R (our
patient control number + a 3-digit line number). When a payer drops REF*6R, a line is matched on
procedure + modifiers + date of service + charge, and then on procedure + date + charge alone
(payers drop or change modifiers; SVC06 carries the code as billed when the payer changed it) —
each only when exactly one billed line fits. Anything else is not guessed: it goes to the
unmatched queue with scored candidates for a person to decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openrcm_remittance.domain.posting import line_service_date
from openrcm_shared.x12.line_control import line_number_from_control
from openrcm_shared.x12.remittance_835 import ClaimPayment, ServiceLine

@dataclass(frozen=True, slots=True)
class BilledLine:
    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...]
    units: Decimal
    charge_amount: Decimal
    service_date: date

    @classmethod
    def from_json(cls, line: dict) -> BilledLine:
        return cls(int(line["line_number"]), line["procedure_code"], tuple(line.get("modifiers") or ()),
                   billed_units(line), Decimal(str(line["charge_amount"])),
                   date.fromisoformat(line["service_date"]))


def billed_units(line: dict) -> Decimal:
    """The units billed on a line as ClaimSubmitted carried it: `quantity` (fractional when billed
    so) on claims submitted since it was added, the whole `units` before."""
    return Decimal(str(line.get("quantity") or line.get("units", 1)))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A billed line (or claim) that might be the one paid, with how well it fits (0..1)."""

    score: float
    line_number: int | None = None
    claim_id: str | None = None
    patient_control_number: str | None = None
    agrees_on: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {key: value for key, value in (
            ("score", round(self.score, 2)), ("claim_id", self.claim_id),
            ("patient_control_number", self.patient_control_number), ("line_number", self.line_number),
            ("agrees_on", list(self.agrees_on))) if value is not None}


@dataclass(frozen=True, slots=True)
class UnmatchedLine:
    line_sequence: int
    reason: str
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class LineMatching:
    line_numbers: list[int | None]  # one per SVC, None where unmatched
    unmatched: list[UnmatchedLine]

    @property
    def complete(self) -> bool:
        return not self.unmatched


def _facts(line: ServiceLine, claim: ClaimPayment) -> tuple[str, tuple[str, ...], date | None, Decimal]:
    procedure = line.original_procedure or line.procedure
    return procedure.code, procedure.modifiers, line_service_date(line, claim), line.charge


_WEIGHTS = {"procedure": 0.4, "service_date": 0.25, "charge": 0.25, "modifiers": 0.1}


def score_line(line: ServiceLine, claim: ClaimPayment, billed: BilledLine) -> Candidate:
    code, modifiers, service_date, charge = _facts(line, claim)
    # A reversal echoes the original line with its charge negated.
    agrees = {"procedure": code == billed.procedure_code, "modifiers": modifiers == billed.modifiers,
              "service_date": service_date == billed.service_date, "charge": abs(charge) == billed.charge_amount}
    names = tuple(name for name, ok in agrees.items() if ok)
    return Candidate(sum(_WEIGHTS[name] for name in names), line_number=billed.line_number, agrees_on=names)


def _exact_fit(line: ServiceLine, claim: ClaimPayment, billed: Sequence[BilledLine]) -> int | None:
    """The one billed line with this procedure, modifiers, date and charge; else the one with this
    procedure, date and charge whatever its modifiers; else None (none, or more than one, fits)."""
    code, modifiers, service_date, charge = _facts(line, claim)
    charge = abs(charge)  # a reversal echoes the original line with its charge negated
    loose = [b for b in billed if b.procedure_code == code and b.service_date == service_date
             and b.charge_amount == charge]
    strict = [b for b in loose if b.modifiers == modifiers]
    if len(strict) == 1:
        return strict[0].line_number
    return loose[0].line_number if len(loose) == 1 else None


def match_lines(claim: ClaimPayment, patient_control_number: str, billed: Sequence[BilledLine],
                manual: dict[int, int] | None = None) -> LineMatching:
    """Our line number for each SVC of `claim`; `manual` holds line matches a person made
    (SVC position -> line number)."""
    by_number = {line.line_number: line for line in billed}
    numbers: list[int | None] = []
    unmatched: list[UnmatchedLine] = []
    for sequence, line in enumerate(claim.service_lines):
        if manual and sequence in manual:
            numbers.append(manual[sequence])
            continue
        number = line_number_from_control(patient_control_number, line.line_control_number)
        if number in by_number:
            numbers.append(number)
            continue
        exact = _exact_fit(line, claim, billed)
        if exact is not None:
            numbers.append(exact)
            continue
        candidates = sorted((score_line(line, claim, b) for b in billed), key=lambda c: -c.score)
        numbers.append(None)
        reason = ("REF*6R names no line of this claim" if line.line_control_number
                  else "no REF*6R and no single billed line with this procedure, date and charge")
        unmatched.append(UnmatchedLine(sequence, reason, tuple(c for c in candidates[:5] if c.score > 0)))
    return LineMatching(numbers, unmatched)


def _shared_prefix(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


def score_claim(claim: ClaimPayment, expected) -> Candidate:
    """How well a billed claim (an expected_claims row) fits an ERA claim we could not find by CLP01."""
    agrees = []
    if _shared_prefix(claim.patient_control_number, expected.patient_control_number) >= 8:
        agrees.append("patient_control_number")
    if abs(claim.charge) == expected.total_charge:
        agrees.append("charge")
    billed_dates = {line["service_date"] for line in expected.lines}
    paid_dates = {str(d) for d in (claim.statement_from, *(line_service_date(l, claim) for l in claim.service_lines))
                  if d is not None}
    if billed_dates & paid_dates:
        agrees.append("service_date")
    weights = {"patient_control_number": 0.4, "charge": 0.35, "service_date": 0.25}
    return Candidate(sum(weights[name] for name in agrees), claim_id=str(expected.claim_id),
                     patient_control_number=expected.patient_control_number, agrees_on=tuple(agrees))
