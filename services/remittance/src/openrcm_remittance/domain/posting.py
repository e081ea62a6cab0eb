"""Posting one claim's payment decision: balance it, split it, and say what happened.

Pure functions over Decimal. The balancing rules are the 835's (005010X221A1, section 1.10.2):
  line         submitted charge - sum(line adjustments) = line paid          (SVC02 - CAS = SVC03)
  claim        sum(line paid) - sum(claim-level adjustments) = claim paid    (CLP03 - all CAS = CLP04)
  transaction  payment amount = sum(claim paid)                              (BPR02 = sum CLP04 - PLB)
A claim or payment that does not balance is refused, never posted in part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from openrcm_shared.money import ZERO

PATIENT_RESPONSIBILITY = "PR"


@dataclass(frozen=True)
class AdjustmentInput:
    group_code: str
    carc: str
    amount: Decimal


@dataclass(frozen=True)
class LineInput:
    line_number: int
    charge_amount: Decimal
    paid_amount: Decimal
    adjustments: tuple[AdjustmentInput, ...]
    rarcs: tuple[str, ...] = ()
    allowed_amount: Decimal | None = None


@dataclass(frozen=True)
class PostedAdjustment:
    line_number: int | None
    group_code: str
    carc: str
    amount: Decimal


@dataclass(frozen=True)
class PostedLine:
    line_number: int
    charge_amount: Decimal
    allowed_amount: Decimal
    paid_amount: Decimal
    patient_responsibility_amount: Decimal
    denied: bool
    rarcs: tuple[str, ...]


@dataclass(frozen=True)
class DeniedItem:
    line_number: int | None
    group_code: str
    carc: str
    rarcs: tuple[str, ...]
    amount: Decimal


@dataclass(frozen=True)
class ClaimPosting:
    charge_amount: Decimal
    allowed_amount: Decimal
    paid_amount: Decimal
    patient_responsibility_amount: Decimal
    outcome: str
    lines: tuple[PostedLine, ...]
    adjustments: tuple[PostedAdjustment, ...]
    denied_items: tuple[DeniedItem, ...] = field(default=())

    @property
    def denied_amount(self) -> Decimal:
        return sum((item.amount for item in self.denied_items), ZERO)


@dataclass(frozen=True)
class Imbalance:
    """Where a payment decision does not add up: a path relative to the claim, and why."""

    path: str
    message: str


def _sum(amounts) -> Decimal:
    return sum(amounts, ZERO)


def post_line(line: LineInput) -> tuple[PostedLine, list[Imbalance]]:
    adjusted = _sum(a.amount for a in line.adjustments)
    problems = []
    if line.charge_amount - adjusted != line.paid_amount:
        problems.append(Imbalance(
            "paid_amount", f"charge {line.charge_amount} - adjustments {adjusted} = "
                           f"{line.charge_amount - adjusted}, but paid is {line.paid_amount}"))
    patient = _sum(a.amount for a in line.adjustments if a.group_code == PATIENT_RESPONSIBILITY)
    payer_reductions = _sum(a.amount for a in line.adjustments if a.group_code != PATIENT_RESPONSIBILITY)
    # Denied: the payer paid nothing and reduced the line for reasons other than patient share.
    denied = line.paid_amount == ZERO and payer_reductions > ZERO
    allowed = line.allowed_amount if line.allowed_amount is not None else line.paid_amount + patient
    return PostedLine(line.line_number, line.charge_amount, allowed, line.paid_amount, patient, denied,
                      line.rarcs), problems


def post_claim(lines: list[LineInput], claim_adjustments: list[AdjustmentInput],
               claim_rarcs: tuple[str, ...] = ()) -> tuple[ClaimPosting, list[Imbalance]]:
    """Balance and classify one claim. Imbalances are returned, not raised, so all are reported."""
    posted_lines, problems = [], []
    for index, line in enumerate(lines):
        posted, line_problems = post_line(line)
        posted_lines.append(posted)
        problems.extend(Imbalance(f"lines/{index}/{p.path}", p.message) for p in line_problems)
    adjustments = [PostedAdjustment(None, a.group_code, a.carc, a.amount) for a in claim_adjustments]
    adjustments += [PostedAdjustment(line.line_number, a.group_code, a.carc, a.amount)
                    for line in lines for a in line.adjustments]
    claim_level_patient = _sum(a.amount for a in claim_adjustments if a.group_code == PATIENT_RESPONSIBILITY)
    paid = _sum(l.paid_amount for l in posted_lines) - _sum(a.amount for a in claim_adjustments)
    patient = _sum(l.patient_responsibility_amount for l in posted_lines) + claim_level_patient
    denied_items = tuple(
        DeniedItem(line.line_number, a.group_code, a.carc, line.rarcs, a.amount)
        for line, posted in zip(lines, posted_lines) if posted.denied
        for a in line.adjustments if a.group_code != PATIENT_RESPONSIBILITY)
    denied_lines = sum(1 for l in posted_lines if l.denied)
    if denied_lines == len(posted_lines):
        outcome = "denied"
    elif denied_lines:
        outcome = "partially_paid"
    else:
        outcome = "paid"
    return ClaimPosting(
        charge_amount=_sum(l.charge_amount for l in posted_lines),
        allowed_amount=_sum(l.allowed_amount for l in posted_lines),
        paid_amount=paid, patient_responsibility_amount=patient, outcome=outcome, lines=tuple(posted_lines),
        adjustments=tuple(adjustments), denied_items=denied_items), problems


def transaction_imbalance(payment_amount: Decimal, claim_paid: list[Decimal]) -> Imbalance | None:
    total = _sum(claim_paid)
    if total != payment_amount:
        return Imbalance("payment_amount", f"payment {payment_amount} differs from the claims' paid total {total}")
    return None
