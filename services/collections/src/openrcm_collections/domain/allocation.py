"""Where a patient's payment goes: to the claims it names, else to the oldest balances first; what
is left over is an unapplied credit on the account (never lost, never refused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from openrcm_shared.money import ZERO


@dataclass(frozen=True)
class OpenBalance:
    claim_id: UUID
    owed: Decimal
    since: datetime  # when the patient first owed on the claim


@dataclass(frozen=True)
class Allocation:
    claim_id: UUID | None  # None: unapplied (a credit on the account)
    amount: Decimal


def allocate(amount: Decimal, balances: list[OpenBalance], named_claims: list[UUID] | None = None) -> list[Allocation]:
    """Split `amount` over the open balances: the named claims in the order given, or every claim
    oldest first; each takes at most what it owes; the remainder is one unapplied allocation."""
    owed = {balance.claim_id: balance for balance in balances if balance.owed > ZERO}
    if named_claims:
        order = [owed[claim_id] for claim_id in named_claims if claim_id in owed]
    else:
        order = sorted(owed.values(), key=lambda balance: (balance.since, str(balance.claim_id)))
    allocations, left = [], amount
    for balance in order:
        if left <= ZERO:
            break
        applied = min(left, balance.owed)
        allocations.append(Allocation(balance.claim_id, applied))
        left -= applied
    if left > ZERO:
        allocations.append(Allocation(None, left))
    return allocations
