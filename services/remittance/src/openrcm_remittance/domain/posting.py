"""Posting one claim's payment decision: what was paid, allowed, adjusted, owed by the patient, and
denied, line by line, and the ledger journal for it.

Pure functions over Decimal, on the 835 model (`openrcm_shared.x12.remittance_835`); the manual
JSON form is converted to the same model first, so one set of rules serves both. Balancing
(005010X221A1 section 1.10.2) is checked before this by `openrcm_shared.x12.balancing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from openrcm_remittance.domain.ledger import Entry, LineMovement, claim_journal
from openrcm_shared.codesets import patient_share_kind
from openrcm_shared.money import ZERO
from openrcm_shared.x12.remittance_835 import ClaimPayment, ServiceLine

PATIENT_RESPONSIBILITY = "PR"
DENIED = "4"
REVERSAL = "22"
NOT_OUR_CLAIM = "23"
CROSSOVER_STATUSES = frozenset({"19", "20", "21"})


@dataclass(frozen=True, slots=True)
class PostedAdjustment:
    line_number: int | None
    group_code: str
    carc: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PatientShare:
    line_number: int | None
    kind: str
    carc: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PostedLine:
    line_number: int
    charge_amount: Decimal
    allowed_amount: Decimal
    paid_amount: Decimal
    patient_responsibility_amount: Decimal
    denied: bool
    rarcs: tuple[str, ...]
    procedure_code: str | None = None
    modifiers: tuple[str, ...] = ()
    service_date: date | None = None
    units: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DeniedItem:
    line_number: int | None  # None: denied at claim level
    group_code: str
    carc: str
    rarcs: tuple[str, ...]
    amount: Decimal


@dataclass(frozen=True)
class ClaimPosting:
    claim_status_code: str
    charge_amount: Decimal
    allowed_amount: Decimal
    paid_amount: Decimal
    patient_responsibility_amount: Decimal
    outcome: str  # paid | partially_paid | denied | not_our_claim | reversed
    lines: tuple[PostedLine, ...]
    adjustments: tuple[PostedAdjustment, ...]
    patient_shares: tuple[PatientShare, ...]
    journal: tuple[Entry, ...]
    denied_items: tuple[DeniedItem, ...] = field(default=())

    @property
    def denied_amount(self) -> Decimal:
        return sum((item.amount for item in self.denied_items), ZERO)

    @property
    def is_reversal(self) -> bool:
        return self.claim_status_code == REVERSAL


def _sum(amounts) -> Decimal:
    return sum(amounts, ZERO)


def _line_rarcs(line: ServiceLine) -> tuple[str, ...]:
    return tuple(remark.code for remark in line.remark_codes if remark.qualifier == "HE")


def _claim_rarcs(claim: ClaimPayment) -> tuple[str, ...]:
    codes: tuple[str, ...] = ()
    for adjudication in (claim.outpatient, claim.inpatient):
        if adjudication is not None:
            codes += adjudication.remark_codes
    return codes


def line_service_date(line: ServiceLine, claim: ClaimPayment) -> date | None:
    """DTM*472, else the line's period start, else the claim's statement start (005010X221A1 2110 DTM)."""
    return line.service_date or line.service_start_date or claim.statement_from


def _post_line(line: ServiceLine, line_number: int, claim: ClaimPayment) -> PostedLine:
    patient = payer_reductions = ZERO
    for adjustment in line.adjustments:  # one pass: this runs for every line of every ERA
        if adjustment.group_code == PATIENT_RESPONSIBILITY:
            patient += adjustment.amount
        else:
            payer_reductions += adjustment.amount
    # Denied: the payer paid nothing and reduced the line for reasons other than the patient's share.
    denied = line.paid == ZERO and payer_reductions > ZERO
    # AMT*B6 when the payer sends it; otherwise what the payer and patient together owe.
    allowed = line.allowed_amount if line.allowed_amount is not None else line.paid + patient
    procedure = line.original_procedure or line.procedure
    return PostedLine(line_number, line.charge, allowed, line.paid, patient, denied, _line_rarcs(line),
                      procedure.code, procedure.modifiers, line_service_date(line, claim), line.units)


def _adjustments(claim: ClaimPayment, line_numbers: list[int]) -> list[PostedAdjustment]:
    posted = [PostedAdjustment(None, a.group_code, a.reason_code, a.amount) for a in claim.adjustments]
    for line, number in zip(claim.service_lines, line_numbers):
        posted += [PostedAdjustment(number, a.group_code, a.reason_code, a.amount) for a in line.adjustments]
    return posted


def _denied_items(claim: ClaimPayment, lines: list[PostedLine], line_numbers: list[int]) -> list[DeniedItem]:
    """Claim denied (CLP02 4, or nothing paid for payer reasons): every payer reduction is a denial
    item. Otherwise only the lines that were denied."""
    claim_rarcs = _claim_rarcs(claim)
    whole_claim = claim.status_code == DENIED or (lines and all(line.denied for line in lines))
    if not lines:
        payer_reductions = _sum(a.amount for a in claim.adjustments if a.group_code != PATIENT_RESPONSIBILITY)
        whole_claim = claim.status_code == DENIED or (claim.paid == ZERO and payer_reductions > ZERO)
    items = []
    if whole_claim:
        items += [DeniedItem(None, a.group_code, a.reason_code, claim_rarcs, a.amount)
                  for a in claim.adjustments if a.group_code != PATIENT_RESPONSIBILITY]
    for service_line, posted, number in zip(claim.service_lines, lines, line_numbers):
        if whole_claim or posted.denied:
            items += [DeniedItem(number, a.group_code, a.reason_code, posted.rarcs or claim_rarcs, a.amount)
                      for a in service_line.adjustments if a.group_code != PATIENT_RESPONSIBILITY]
    return items


def _outcome(claim: ClaimPayment, lines: list[PostedLine], denied_items: list[DeniedItem]) -> str:
    if claim.status_code == REVERSAL:
        return "reversed"
    if claim.status_code == NOT_OUR_CLAIM:
        return "not_our_claim"
    if claim.status_code == DENIED:
        return "denied"
    if lines:
        denied_lines = sum(1 for line in lines if line.denied)
        if denied_lines == len(lines):
            return "denied"
        return "partially_paid" if denied_lines else "paid"
    return "denied" if denied_items else "paid"


def _triplets(adjustments) -> tuple[tuple[str, str, Decimal], ...]:
    return tuple([(a.group_code, a.reason_code, a.amount) for a in adjustments])


def post_claim(claim: ClaimPayment, line_numbers: list[int]) -> ClaimPosting:
    """Classify and journal one claim payment whose lines are matched to our `line_numbers`
    (one per SVC, in order). The claim must already balance."""
    lines = [_post_line(line, number, claim) for line, number in zip(claim.service_lines, line_numbers)]
    adjustments = _adjustments(claim, line_numbers)
    denied_items = _denied_items(claim, lines, line_numbers)
    patient_shares = tuple(PatientShare(a.line_number, patient_share_kind(a.carc), a.carc, a.amount)
                           for a in adjustments if a.group_code == PATIENT_RESPONSIBILITY)
    # A claim with neither lines nor adjustments explains no reduction (CLP02 23 "not our claim"
    # is the usual case): only what was paid leaves the receivable; the rest stays open.
    relieved = claim.charge if claim.service_lines or claim.adjustments else claim.paid
    journal = claim_journal(
        relieved, claim.paid,
        [LineMovement(number, line.charge, line.paid, _triplets(line.adjustments))
         for line, number in zip(claim.service_lines, line_numbers)],
        _triplets(claim.adjustments))
    patient = allowed = ZERO
    for adjustment in claim.adjustments:
        if adjustment.group_code == PATIENT_RESPONSIBILITY:
            patient += adjustment.amount
    for line in lines:
        patient += line.patient_responsibility_amount
        allowed += line.allowed_amount
    if not lines:
        allowed = claim.paid + patient
    return ClaimPosting(
        claim_status_code=claim.status_code, charge_amount=claim.charge, allowed_amount=allowed,
        paid_amount=claim.paid, patient_responsibility_amount=patient,
        outcome=_outcome(claim, lines, denied_items), lines=tuple(lines), adjustments=tuple(adjustments),
        patient_shares=patient_shares, journal=tuple(journal), denied_items=tuple(denied_items))
