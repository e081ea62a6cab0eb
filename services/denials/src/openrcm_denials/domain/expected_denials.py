"""Expected denials: a claim the payer already has, billing a date of service the payer has since
answered (271) the coverage is inactive on. The payer will most likely deny it (CARC 26/27), so a
billing specialist looks before the 835 does: checks the coverage, bills the right payer or the
patient. One open item per claim; the payer's remittance or a person closes it.

Plain rules, no I/O: what a new flag does to the claim's items, which payer decision closes an
item and how, and the resolutions a person may choose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Iterable
from uuid import UUID


class ExpectedDenialStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    # Chosen by a person working the item.
    COVERAGE_CORRECTED = "coverage_corrected"  # the payer had it wrong, or the coverage was reinstated
    BILLED_OTHER_PAYER = "billed_other_payer"  # another coverage was primary on the date of service
    BILLED_PATIENT = "billed_patient"  # self-pay: no coverage on the date of service
    NO_ACTION = "no_action"
    # Set by the payer's remittance for the claim.
    DENIED = "denied"
    PAID = "paid"


MANUAL_RESOLUTIONS = (Resolution.COVERAGE_CORRECTED, Resolution.BILLED_OTHER_PAYER, Resolution.BILLED_PATIENT,
                      Resolution.NO_ACTION)


@dataclass(frozen=True)
class ClaimItem:
    """One expected-denial item of a claim, as far as a new flag cares."""

    id: UUID
    status: ExpectedDenialStatus
    eligibility_check_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class FlagDecision:
    """What a ClaimDenialExpected does: nothing (`ignore`), a new item (`open`), or the claim's open
    item takes the newer check (`reflag`, `item_id` says which)."""

    action: str  # ignore | open | reflag
    item_id: UUID | None = None


IGNORE = FlagDecision("ignore")
OPEN = FlagDecision("open")


def decide_flag(items: Iterable[ClaimItem], eligibility_check_id: UUID) -> FlagDecision:
    """A check that already flagged the claim changes nothing, even once its item was closed (the same
    answer announced again must not reopen what a person or the payer settled). Another check: the
    open item, if any, follows it (one open item per claim); else a new item opens."""
    items = list(items)
    if any(eligibility_check_id in item.eligibility_check_ids for item in items):
        return IGNORE
    open_item = next((item for item in items if item.status is ExpectedDenialStatus.OPEN), None)
    return OPEN if open_item is None else FlagDecision("reflag", open_item.id)


def payment_closes(outcome: str, paid_amount: Decimal) -> bool:
    """A payer decision that paid something on the claim answers the expectation: the coverage was
    there after all (a partly paid claim's denied lines open a denial case of their own). A decision
    paying nothing waits for its ClaimDenied; "not our claim" (CLP02 23) says nothing about coverage."""
    return outcome in ("paid", "partially_paid") and paid_amount > 0


def reversal_reopens(reversed_paid_amount: Decimal) -> bool:
    """A reversal that takes money back undoes the payment that settled an item `paid` (a recoupment,
    typically after a retroactive termination: the denial the eligibility answer foretold after
    all). A reversed denial (nothing paid) settled nothing."""
    return reversed_paid_amount > 0


def age_in_days(flagged_at: datetime, now: datetime) -> int:
    """Whole days the claim has been expected to be denied (0 on the day it was flagged)."""
    return max(0, (now.date() - flagged_at.astimezone(now.tzinfo).date()).days)
