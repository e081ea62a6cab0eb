"""The patient's share of a bill under coordination of benefits, and what the payers overpaid.

A bill is a primary claim and the claims made from it for the next payers (secondary, tertiary).
Each payer that adjudicates it says what the patient owes (its PR adjustments): under coordination
of benefits the next payer's decision already takes the previous ones into account (it pays toward
the share they left), so the patient owes what the LAST payer that adjudicated the bill says, not
the sum over payers. A later adjudication (or a reversal) moves the account.

The provider may collect, in all, the largest amount a payer recognised for the bill (its allowed
amount, or what it paid plus the patient's share when larger); payer payments plus the patient's
share beyond that are an overpayment, a credit balance owed back to the payers that paid last.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from openrcm_shared.money import ZERO

# Ledger entry kinds that carry the patient's responsibility from payer decisions.
ASSIGNED = "patient_responsibility"
REPLACED = "responsibility_replaced"  # a later payer's decision replaced this share
PAYER_REVERSAL = "payer_reversal"  # the payer took its decision back (CLP02 22)
SHARE_KINDS = (ASSIGNED, REPLACED, PAYER_REVERSAL)
# A denied amount the denials service moved to the patient (DenialTransferredToPatient): owed by the
# patient on top of what the payers' decisions say, so settling a bill again never takes it back.
DENIAL_TRANSFER = "denial_transfer"
# What a statement lists line by line as owed: the payers' shares and the denials moved to the patient.
OWED_KINDS = SHARE_KINDS + (DENIAL_TRANSFER,)

ShareKey = tuple[UUID, int | None, str]  # (claim id, line number, CARC)


@dataclass(frozen=True)
class ShareLine:
    line_number: int | None
    carc: str
    amount: Decimal


@dataclass(frozen=True)
class Adjudication:
    """One payer's decision on one claim of the bill, in the order they were posted."""

    claim_id: UUID
    payer_id: str
    paid: Decimal
    allowed: Decimal
    shares: tuple[ShareLine, ...]

    @property
    def patient_share(self) -> Decimal:
        return sum((share.amount for share in self.shares), ZERO)

    @property
    def recognised(self) -> Decimal:
        """What this payer says the provider may collect for the bill."""
        return max(self.allowed, self.paid + self.patient_share)


@dataclass(frozen=True)
class ShareChange:
    claim_id: UUID
    line_number: int | None
    carc: str
    amount: Decimal  # positive: the patient owes more; negative: less


def patient_share_target(adjudications: list[Adjudication]) -> dict[ShareKey, Decimal]:
    """What the patient owes for the bill, per claim, line and CARC: the last payer's PR."""
    if not adjudications:
        return {}
    last = adjudications[-1]
    target: dict[ShareKey, Decimal] = {}
    for share in last.shares:
        key = (last.claim_id, share.line_number, share.carc)
        target[key] = target.get(key, ZERO) + share.amount
    return {key: amount for key, amount in target.items() if amount != ZERO}


def share_changes(target: dict[ShareKey, Decimal], held: dict[ShareKey, Decimal]) -> list[ShareChange]:
    """The ledger movements that take what the account holds for the bill to the target (none when
    they agree, so applying a decision twice moves nothing)."""
    changes = []
    for key in sorted(set(target) | set(held), key=lambda k: (str(k[0]), k[1] or 0, k[2])):
        delta = target.get(key, ZERO) - held.get(key, ZERO)
        if delta != ZERO:
            changes.append(ShareChange(key[0], key[1], key[2], delta))
    return changes


def payer_overpayments(adjudications: list[Adjudication]) -> dict[str, Decimal]:
    """Per payer, what the payers paid beyond what the provider may collect for the bill, taken
    from the payers that paid last (their payment came on top of an already settled bill)."""
    if not adjudications:
        return {}
    collectible = max(adjudication.recognised for adjudication in adjudications)
    paid = sum((adjudication.paid for adjudication in adjudications), ZERO)
    excess = paid + adjudications[-1].patient_share - collectible
    credits: dict[str, Decimal] = {}
    for adjudication in reversed(adjudications):
        if excess <= ZERO:
            break
        taken = min(excess, max(adjudication.paid, ZERO))
        if taken > ZERO:
            credits[adjudication.payer_id] = credits.get(adjudication.payer_id, ZERO) + taken
            excess -= taken
    return credits
