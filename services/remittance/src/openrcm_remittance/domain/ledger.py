"""The double-entry ledger behind payment posting.

Every posting is a journal of entries that sum to zero: debits positive, credits negative. For a
claim line the payer decided on, what was billed leaves the insurance receivable and lands where
the 835 says it went:

    credit  insurance_receivable       the line charge (SVC02)
    debit   payer_payment              what the payer paid (SVC03)
    debit   contractual_adjustment     CAS group CO (written off under the contract)
    debit   patient_responsibility     CAS group PR (moves to the patient's account)
    debit   other_adjustment           CAS group OA
    debit   payer_initiated_reduction  CAS group PI
    debit   correction_reversal        CAS group CR (4010 only, still seen on legacy files)

The line balances because SVC02 - sum(CAS) = SVC03 (005010X221A1 section 1.10.2.1). Claim-level
CAS and any difference between CLP03/CLP04 and the lines' totals post as claim-level entries (no
line number), which balance because CLP03 - all CAS = CLP04. A reversal (CLP02 22) carries negative
amounts and so posts the mirror image of what it reverses.

Provider-level adjustments (PLB) are not about a claim: a positive PLB amount is money the payer
keeps from this payment (debit provider_adjustment, credit payer_payment), a negative one (interest)
adds to it. So the payer_payment entries of one ERA always sum to BPR02 — the amount that should
reach the bank, which is what EFT reassociation checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from openrcm_shared.money import ZERO

INSURANCE_RECEIVABLE = "insurance_receivable"
PAYER_PAYMENT = "payer_payment"
PROVIDER_ADJUSTMENT = "provider_adjustment"
ADJUSTMENT_ACCOUNTS = {
    "CO": "contractual_adjustment",
    "PR": "patient_responsibility",
    "OA": "other_adjustment",
    "PI": "payer_initiated_reduction",
    "CR": "correction_reversal",
}


class Entry(NamedTuple):  # a tuple: an ERA builds hundreds of thousands of them
    account: str
    amount: Decimal  # debit positive, credit negative
    line_number: int | None = None
    group_code: str | None = None
    reason_code: str | None = None


@dataclass(frozen=True, slots=True)
class LineMovement:
    """What the payer decided on one line: charge, payment and the adjustments between them."""

    line_number: int
    charge: Decimal
    paid: Decimal
    adjustments: tuple[tuple[str, str, Decimal], ...]  # (group code, CARC, amount)


class UnbalancedJournal(ValueError):
    """A journal whose entries do not sum to zero: never something to post."""

    def __init__(self, excess: Decimal) -> None:
        super().__init__(f"journal entries sum to {excess}, not 0")
        self.excess = excess  # what the entries sum to


def _adjustment_entries(adjustments, line_number: int | None) -> list[Entry]:
    return [Entry(ADJUSTMENT_ACCOUNTS[group], amount, line_number, group, carc)
            for group, carc, amount in adjustments if amount != ZERO]


def claim_journal(charge: Decimal, paid: Decimal, lines: list[LineMovement],
                  claim_adjustments: tuple[tuple[str, str, Decimal], ...]) -> list[Entry]:
    """The entries for one claim payment decision (CLP loop). Raises if they would not balance."""
    entries: list[Entry] = []
    unexplained_charge, unexplained_paid = charge, paid
    for line in lines:
        entries.append(Entry(INSURANCE_RECEIVABLE, -line.charge, line.line_number))
        if line.paid != ZERO:
            entries.append(Entry(PAYER_PAYMENT, line.paid, line.line_number))
        entries += _adjustment_entries(line.adjustments, line.line_number)
        unexplained_charge -= line.charge
        unexplained_paid -= line.paid
    # What the lines do not explain sits at claim level: claim CAS, and a claim charge or payment
    # that differs from the lines' sums (a payer may bundle or adjust at claim level).
    if unexplained_charge != ZERO:
        entries.append(Entry(INSURANCE_RECEIVABLE, -unexplained_charge))
    if unexplained_paid != ZERO:
        entries.append(Entry(PAYER_PAYMENT, unexplained_paid))
    entries += _adjustment_entries(claim_adjustments, None)
    _require_balanced(entries)
    return entries


def provider_adjustment_journal(adjustments: list[tuple[str, str | None, Decimal]]) -> list[Entry]:
    """Entries for an ERA's PLB adjustments: (reason code, reference, amount) each."""
    entries: list[Entry] = []
    for reason, _reference, amount in adjustments:
        entries.append(Entry(PROVIDER_ADJUSTMENT, amount, reason_code=reason))
        entries.append(Entry(PAYER_PAYMENT, -amount, reason_code=reason))
    return entries


def _require_balanced(entries: list[Entry]) -> None:
    total = ZERO
    for entry in entries:
        total += entry.amount
    if total != ZERO:
        raise UnbalancedJournal(total)
