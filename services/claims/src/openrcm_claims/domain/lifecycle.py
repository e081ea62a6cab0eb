"""The claim's state machine. Every transition is listed here; anything else is refused.

    held ──fix──▶ ready ──837 sent──▶ submitted ──999 accepted──▶ accepted_by_clearinghouse
      ▲             │                    │  999/277CA rejected            │ 277CA A1/A2
      └──blocked────┘                    ▼                                ▼
                                     rejected ──corrected (new version)──▶ held / ready
    submitted / accepted_* ──remittance──▶ paid | partially_paid | denied;  void ──▶ voided
    paid | partially_paid | denied ──reversal (CLP02 22)──▶ accepted_by_payer ──corrected decision──▶ ...
"""

from __future__ import annotations

from enum import StrEnum


class ClaimStatus(StrEnum):
    HELD = "held"
    READY = "ready"
    SUBMITTED = "submitted"
    ACCEPTED_BY_CLEARINGHOUSE = "accepted_by_clearinghouse"
    ACCEPTED_BY_PAYER = "accepted_by_payer"
    REJECTED = "rejected"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    VOIDED = "voided"


class CoverageStatus(StrEnum):
    UNVERIFIED = "unverified"
    ACTIVE = "active"
    INACTIVE = "inactive"


_ADJUDICATED = frozenset({ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED})
# A claim the payer holds goes out again as a replacement (frequency 7) or a void (8): back to
# ready (or held, if the corrected data does not scrub clean). A void, once accepted, is voided.
_RESUBMITTED = frozenset({ClaimStatus.READY, ClaimStatus.HELD})

# from -> the states it may move to. Payers sometimes remit before their 277CA arrives, so a
# remittance outcome is accepted from any state after submission. A denied claim can still be
# paid (appeal, reprocessing); a paid claim leaves "paid" only by void or reversal. A reversal
# (835 CLP02 22) takes the payer's decision back: the claim is with the payer again, awaiting the
# corrected decision.
_REVERSED = frozenset({ClaimStatus.ACCEPTED_BY_PAYER})
TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.HELD: frozenset({ClaimStatus.READY}),
    ClaimStatus.READY: frozenset({ClaimStatus.HELD, ClaimStatus.SUBMITTED}),
    # HELD: the clearinghouse refused the whole file the claim went in (it reached no payer).
    ClaimStatus.SUBMITTED: frozenset({ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, ClaimStatus.ACCEPTED_BY_PAYER,
                                      ClaimStatus.REJECTED, ClaimStatus.VOIDED, ClaimStatus.HELD}) | _ADJUDICATED,
    ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE: frozenset({ClaimStatus.ACCEPTED_BY_PAYER, ClaimStatus.REJECTED,
                                                      ClaimStatus.VOIDED}) | _ADJUDICATED,
    ClaimStatus.ACCEPTED_BY_PAYER: _ADJUDICATED | _RESUBMITTED | frozenset({ClaimStatus.REJECTED}),
    ClaimStatus.REJECTED: frozenset({ClaimStatus.HELD, ClaimStatus.READY}),
    ClaimStatus.PARTIALLY_PAID: frozenset({ClaimStatus.PAID, ClaimStatus.DENIED}) | _RESUBMITTED | _REVERSED,
    ClaimStatus.DENIED: frozenset({ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID}) | _RESUBMITTED | _REVERSED,
    ClaimStatus.PAID: _RESUBMITTED | _REVERSED,
    ClaimStatus.VOIDED: frozenset(),
}

# Claims whose coverage answer still matters (not yet adjudicated or closed).
OPEN_STATUSES = frozenset({ClaimStatus.HELD, ClaimStatus.READY, ClaimStatus.SUBMITTED,
                           ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, ClaimStatus.ACCEPTED_BY_PAYER,
                           ClaimStatus.REJECTED, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED})

# Claims whose data may still change (and be scrubbed again) before they go out.
EDITABLE_STATUSES = frozenset({ClaimStatus.HELD, ClaimStatus.READY, ClaimStatus.REJECTED})
# Claims the payer has (it returned a payer claim control number): changed only by replace or void.
WITH_PAYER_STATUSES = frozenset({ClaimStatus.ACCEPTED_BY_PAYER, ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID,
                                 ClaimStatus.DENIED})


class IllegalTransition(Exception):
    def __init__(self, current: ClaimStatus, target: ClaimStatus) -> None:
        super().__init__(f"claim cannot move from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(current: ClaimStatus, target: ClaimStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)


def status_for_outcome(outcome: str) -> ClaimStatus:
    """The remittance outcome of a posted claim payment -> the claim's next status ("not_our_claim"
    has none: the claim stays where it is, see remittance_outcomes)."""
    return {"paid": ClaimStatus.PAID, "partially_paid": ClaimStatus.PARTIALLY_PAID,
            "denied": ClaimStatus.DENIED}[outcome]
