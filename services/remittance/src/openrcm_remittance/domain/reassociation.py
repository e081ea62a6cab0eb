"""EFT reassociation: tying the money that reached the bank to the ERA that explains it.

The CAQH CORE 370 EFT & ERA Reassociation (CCD+/835) rule (adopted under HIPAA, 45 CFR 162.1603) makes
the payer's EFT a NACHA CCD+ entry whose addenda record carries the 835's TRN segment as Payment Related
Information. Its CORE-required minimum data for reassociation are the CCD+ Effective Entry Date (= BPR16),
the Amount (= BPR02) and that TRN. So a deposit's trace number is the ERA's TRN02, and TRN03 is "1"
followed by the payer's TIN (005010X221A1, TRN03).

The rules, all exact (money is never matched "nearly"):

* match      same trace number, same amount to the cent, the same payer where both sides say who it is
             (our payer id, or the TIN against TRN03), and a deposit date within three business days of
             BPR16. CORE 370 lets the ERA go out up to three business days before or after the CCD+
             effective entry date; a bank may credit a day late; the same window is our tolerance.
             Holidays are not modelled: a deposit posted across one lands as an exception to confirm.
* exception  same trace and payer but another amount (listed with the difference, deposit - ERA), or the
             right amount outside the date window, or several ERAs that all fit: never matched by itself.
* unrelated  another trace number, or another payer.

Only money that moved is reassociated: an ERA paying nothing (BPR02 = 0, BPR04 NON) has no EFT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal
from uuid import UUID

from openrcm_shared.money import ZERO

DATE_TOLERANCE_BUSINESS_DAYS = 3

Verdict = Literal["match", "amount_mismatch", "date_outside_tolerance", "other_payer", "other_trace"]
DiscrepancyReason = Literal["amount_mismatch", "date_outside_tolerance", "ambiguous"]


@dataclass(frozen=True, slots=True)
class DepositFacts:
    """A credit on the practice's bank account from a CCD+ entry, as the bank reported it."""

    id: UUID
    trace_number: str
    amount: Decimal
    deposit_date: date
    payer_id: str | None = None
    payer_tin: str | None = None  # nine digits


@dataclass(frozen=True, slots=True)
class EraPayment:
    """The payment an ERA explains: BPR02, BPR16 and TRN02/TRN03."""

    id: UUID
    payer_id: str
    trace_number: str
    payment_amount: Decimal
    payment_date: date
    originating_company_id: str | None = None  # TRN03


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """Why a deposit and an ERA with the same trace number were not matched."""

    deposit_id: UUID
    remittance_id: UUID
    reason: DiscrepancyReason
    amount_difference: Decimal  # deposit amount - ERA payment amount
    business_days_apart: int


def business_days_apart(first: date, second: date) -> int:
    """Weekdays after the earlier date up to and including the later one (Friday to Monday is 1)."""
    start, end = sorted((first, second))
    whole_weeks, rest = divmod((end - start).days, 7)
    return whole_weeks * 5 + sum(1 for k in range(1, rest + 1) if (start + timedelta(days=k)).weekday() < 5)


def tin_of(originating_company_id: str | None) -> str | None:
    """The payer TIN in a TRN03 ("1" + nine digits); other forms are compared as they are."""
    if originating_company_id is None:
        return None
    value = originating_company_id.strip()
    if len(value) == 10 and value.isdigit() and value.startswith("1"):
        return value[1:]
    return value


def normalize_trace(trace_number: str) -> str:
    return trace_number.strip()


def _same_payer(deposit: DepositFacts, era: EraPayment) -> bool:
    if deposit.payer_id and deposit.payer_id != era.payer_id:
        return False
    if deposit.payer_tin and era.originating_company_id:
        return tin_of(era.originating_company_id) == deposit.payer_tin
    return True


def assess(deposit: DepositFacts, era: EraPayment,
           tolerance_business_days: int = DATE_TOLERANCE_BUSINESS_DAYS) -> Verdict:
    if normalize_trace(deposit.trace_number) != normalize_trace(era.trace_number):
        return "other_trace"
    if not _same_payer(deposit, era):
        return "other_payer"
    if deposit.amount != era.payment_amount:
        return "amount_mismatch"
    if business_days_apart(deposit.deposit_date, era.payment_date) > tolerance_business_days:
        return "date_outside_tolerance"
    return "match"


@dataclass(frozen=True, slots=True)
class Reassociation:
    """The outcome for one deposit or one ERA against its candidates: at most one match, and what did not fit."""

    matched: tuple[DepositFacts, EraPayment] | None
    discrepancies: tuple[Discrepancy, ...]


def _discrepancy(deposit: DepositFacts, era: EraPayment, reason: DiscrepancyReason) -> Discrepancy:
    return Discrepancy(deposit.id, era.id, reason, deposit.amount - era.payment_amount,
                       business_days_apart(deposit.deposit_date, era.payment_date))


def reassociate(pairs: Sequence[tuple[DepositFacts, EraPayment]]) -> Reassociation:
    """Decide over candidate pairs (one deposit against ERAs, or one ERA against deposits).

    Exactly one fitting pair is a match. Several fitting pairs are all exceptions ("ambiguous"): picking
    one would be a guess about whose money it is.
    """
    fitting = [(d, e) for d, e in pairs if assess(d, e) == "match"]
    discrepancies = [_discrepancy(d, e, verdict) for d, e in pairs
                     if (verdict := assess(d, e)) in ("amount_mismatch", "date_outside_tolerance")]
    if len(fitting) == 1:
        return Reassociation(fitting[0], tuple(discrepancies))
    discrepancies += [_discrepancy(d, e, "ambiguous") for d, e in fitting]
    return Reassociation(None, tuple(discrepancies))


def moves_money(era: EraPayment) -> bool:
    return era.payment_amount > ZERO
