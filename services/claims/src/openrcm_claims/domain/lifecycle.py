"""The claim's state machine. Every transition is listed here; anything else is refused."""

from __future__ import annotations

from enum import StrEnum


class ClaimStatus(StrEnum):
    SUBMITTED = "submitted"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"


class CoverageStatus(StrEnum):
    UNVERIFIED = "unverified"
    ACTIVE = "active"
    INACTIVE = "inactive"


# from -> the states it may move to. A denied claim can still be paid (appeal, reprocessing);
# a paid claim leaves "paid" only by reversal, which the remittance issue adds.
TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.SUBMITTED: frozenset({ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED}),
    ClaimStatus.PARTIALLY_PAID: frozenset({ClaimStatus.PAID, ClaimStatus.DENIED}),
    ClaimStatus.DENIED: frozenset({ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID}),
    ClaimStatus.PAID: frozenset(),
}

OPEN_STATUSES = frozenset({ClaimStatus.SUBMITTED, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED})


class IllegalTransition(Exception):
    def __init__(self, current: ClaimStatus, target: ClaimStatus) -> None:
        super().__init__(f"claim cannot move from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(current: ClaimStatus, target: ClaimStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)


def status_for_outcome(outcome: str) -> ClaimStatus:
    """The remittance outcome of a posted claim payment -> the claim's next status."""
    return {"paid": ClaimStatus.PAID, "partially_paid": ClaimStatus.PARTIALLY_PAID,
            "denied": ClaimStatus.DENIED}[outcome]
