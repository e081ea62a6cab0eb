"""835 balancing at the three levels of 005010X221A1 (section 1.10.2, "Balancing"), in exact Decimal.

    service line   SVC02 - sum(line CAS amounts)                 = SVC03
    claim          CLP03 - sum(claim CAS + all line CAS amounts) = CLP04
    transaction    sum(CLP04) - sum(PLB amounts)                 = BPR02   (BPR03 = D: -BPR02)

A claim is balanced only when it carries something to balance: service lines or claim-level CAS. A
bare CLP (some payers send one for a claim they forwarded) has no adjustments to explain its
charge and is not checked. Reversals (CLP02 = 22) carry negated amounts and balance by the same
arithmetic, so they need no special case.

Nothing here raises on an imbalance: the result is a list of `BalancingDifference`, empty when the
transaction balances. The caller fails closed: an unbalanced transaction is held, never posted.

The arithmetic runs in the caller's decimal context. X12 amounts have at most 18 digits, so with
the default precision (28) every sum is exact; a balancer refuses to start under a context too
coarse for that, rather than round a cent away.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, getcontext
from enum import StrEnum

from openrcm_shared.x12.remittance_835 import ClaimPayment, Remittance835

__all__ = [
    "BalancingDifference",
    "BalancingLevel",
    "RemittanceBalancer",
    "balance_claim",
    "balance_remittance",
]

_ZERO = Decimal(0)
_EXACT_PRECISION = 28  # digits: the default context; room for sums of 18-digit X12 amounts


class BalancingLevel(StrEnum):
    SERVICE_LINE = "service_line"
    CLAIM = "claim"
    TRANSACTION = "transaction"


@dataclass(frozen=True, slots=True)
class BalancingDifference:
    """One equation that does not hold.

    `expected` is what the arithmetic says the reported amount should be (SVC02 - CAS,
    CLP03 - CAS, or sum CLP04 - sum PLB); `actual` is what the payer reported (SVC03, CLP04, or
    BPR02 signed by BPR03). `claim_index` and `line_index` are 1-based positions (the claim in its
    transaction, the service line in its claim), because a patient control number may repeat.
    """

    level: BalancingLevel
    expected: Decimal
    actual: Decimal
    patient_control_number: str | None = None
    claim_index: int | None = None
    line_index: int | None = None
    segment_number: int | None = None  # of the CLP or SVC in its interchange

    @property
    def difference(self) -> Decimal:
        """actual - expected: positive when the payer reports more than its adjustments explain."""
        return self.actual - self.expected


def balance_claim(claim: ClaimPayment, claim_index: int) -> list[BalancingDifference]:
    """Line-level then claim-level differences of one claim (`claim_index`: 1-based position)."""
    differences = []
    expected_paid = claim.charge
    for adjustment in claim.adjustments:
        expected_paid -= adjustment.amount
    line_index = 0
    for line in claim.service_lines:
        line_index += 1
        line_expected = line.charge
        for adjustment in line.adjustments:
            line_expected -= adjustment.amount
            expected_paid -= adjustment.amount  # line CAS count toward the claim as well
        if line_expected != line.paid:
            differences.append(BalancingDifference(BalancingLevel.SERVICE_LINE, line_expected, line.paid,
                                                   claim.patient_control_number, claim_index, line_index,
                                                   line.segment_number))
    if expected_paid != claim.paid and (claim.service_lines or claim.adjustments):
        differences.append(BalancingDifference(BalancingLevel.CLAIM, expected_paid, claim.paid,
                                               claim.patient_control_number, claim_index, None, claim.segment_number))
    return differences


class RemittanceBalancer:
    """Balance a transaction while its claims stream past, keeping only running totals.

    Feed every claim in order to `add_claim` (it returns that claim's differences at once), then
    call `finish` with the transaction once its PLBs are read. `differences` holds them all.
    """

    __slots__ = ("claim_count", "total_claim_payment", "differences")

    def __init__(self) -> None:
        if getcontext().prec < _EXACT_PRECISION:
            raise ValueError(f"balancing needs a decimal context of at least {_EXACT_PRECISION} digits, "
                             f"the current one has {getcontext().prec}")
        self.claim_count = 0
        self.total_claim_payment = _ZERO
        self.differences: list[BalancingDifference] = []

    def add_claim(self, claim: ClaimPayment) -> list[BalancingDifference]:
        self.claim_count += 1
        self.total_claim_payment += claim.paid
        differences = balance_claim(claim, self.claim_count)
        self.differences.extend(differences)
        return differences

    def add_batch(self, claim_count: int, total_claim_payment: Decimal,
                  differences: list[BalancingDifference]) -> None:
        """Claims balanced elsewhere (by `balance_claim`, with their positions in the transaction):
        their count, their CLP04 total and their differences, batch by batch in file order."""
        self.claim_count += claim_count
        self.total_claim_payment += total_claim_payment
        self.differences.extend(differences)

    def finish(self, remittance: Remittance835) -> list[BalancingDifference]:
        """Transaction level: BPR02 (signed by BPR03) = sum(CLP04) - sum(PLB). Returns every difference."""
        provider_adjustments = sum((adjustment.amount for adjustment in remittance.provider_adjustments), _ZERO)
        expected = self.total_claim_payment - provider_adjustments
        actual = remittance.payment.signed_amount
        if expected != actual:
            self.differences.append(BalancingDifference(BalancingLevel.TRANSACTION, expected, actual))
        return self.differences


def balance_remittance(remittance: Remittance835) -> list[BalancingDifference]:
    """Every difference of a parsed transaction, lines and claims in file order, then the transaction.

    An empty list means the transaction balances at all three levels."""
    balancer = RemittanceBalancer()
    for claim in remittance.claims:
        balancer.add_claim(claim)
    return balancer.finish(remittance)
