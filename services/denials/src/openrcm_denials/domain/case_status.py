"""A denial case's state machine. Every transition is listed here; anything else is refused (409).

    open ──pick up──▶ in_progress ──ask clinical──▶ waiting_on_clinical ──notes back──▶ in_progress
      │                  │
      │                  ├──corrected claim sent──▶ corrected_resubmitted ─┐
      │                  ├──appeal submitted──────▶ appealed ──────────────┤
      │                  └──write-off approved────▶ written_off            │
      │                                                                    ▼
      │                                  payer pays / decides: won | partially_won | lost
      └──payer reverses its decision (any unresolved state)──▶ closed_payer_reversed

A case that was lost may be appealed again at the next level (lost ──▶ appealed); a reversal of the
payment that won a case reopens it (won/partially_won ──▶ open), because the money it recovered is gone.
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CLINICAL = "waiting_on_clinical"
    CORRECTED_RESUBMITTED = "corrected_resubmitted"
    APPEALED = "appealed"
    WON = "won"
    PARTIALLY_WON = "partially_won"
    LOST = "lost"
    WRITTEN_OFF = "written_off"
    CLOSED_PAYER_REVERSED = "closed_payer_reversed"


_OUTCOMES = frozenset({CaseStatus.WON, CaseStatus.PARTIALLY_WON, CaseStatus.LOST})
_WORKING = frozenset({CaseStatus.IN_PROGRESS, CaseStatus.WAITING_ON_CLINICAL, CaseStatus.CORRECTED_RESUBMITTED,
                      CaseStatus.APPEALED, CaseStatus.WRITTEN_OFF})
# A later 835 for the claim may settle a case in any unresolved state (the payer reprocessed it on
# its own, or after a phone call), so the outcomes are reachable from every open state.
_SETTLED_BY_PAYER = _OUTCOMES | frozenset({CaseStatus.CLOSED_PAYER_REVERSED})

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: _WORKING | _SETTLED_BY_PAYER,
    CaseStatus.IN_PROGRESS: (_WORKING - {CaseStatus.IN_PROGRESS}) | _SETTLED_BY_PAYER,
    CaseStatus.WAITING_ON_CLINICAL: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.APPEALED,
                                               CaseStatus.CORRECTED_RESUBMITTED}) | _SETTLED_BY_PAYER,
    CaseStatus.CORRECTED_RESUBMITTED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.APPEALED}) | _SETTLED_BY_PAYER,
    CaseStatus.APPEALED: frozenset({CaseStatus.IN_PROGRESS}) | _SETTLED_BY_PAYER,
    CaseStatus.LOST: frozenset({CaseStatus.APPEALED, CaseStatus.WRITTEN_OFF, CaseStatus.IN_PROGRESS,
                                CaseStatus.WON, CaseStatus.PARTIALLY_WON}),
    CaseStatus.WON: frozenset({CaseStatus.OPEN}),
    CaseStatus.PARTIALLY_WON: frozenset({CaseStatus.OPEN, CaseStatus.APPEALED, CaseStatus.WRITTEN_OFF,
                                         CaseStatus.WON}),
    CaseStatus.WRITTEN_OFF: frozenset({CaseStatus.OPEN, CaseStatus.WON, CaseStatus.PARTIALLY_WON}),
    CaseStatus.CLOSED_PAYER_REVERSED: frozenset(),
}

# Cases still on someone's worklist: nothing has settled them.
UNRESOLVED = frozenset({CaseStatus.OPEN, CaseStatus.IN_PROGRESS, CaseStatus.WAITING_ON_CLINICAL,
                        CaseStatus.CORRECTED_RESUBMITTED, CaseStatus.APPEALED})
RESOLVED = frozenset(CaseStatus) - UNRESOLVED
# Cases waiting for the payer's answer to what we sent (an appeal, a corrected claim). Payers answer by
# reprocessing: a reversal of the denial (835 CLP02 22) followed by the new decision, which settles the
# case; the reversal alone does not close it.
AWAITING_PAYER = frozenset({CaseStatus.APPEALED, CaseStatus.CORRECTED_RESUBMITTED})


class IllegalCaseTransition(Exception):
    def __init__(self, current: CaseStatus, target: CaseStatus) -> None:
        super().__init__(f"a denial case cannot move from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(current: CaseStatus, target: CaseStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalCaseTransition(current, target)
