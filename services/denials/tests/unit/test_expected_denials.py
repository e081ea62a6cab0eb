"""Expected denials' rules: what a new flag does to a claim's items, which payer decision closes one,
the resolutions a person may record, an item's age."""

from __future__ import annotations

import typing
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from openrcm_denials.domain.expected_denials import (
    IGNORE, MANUAL_RESOLUTIONS, OPEN, ClaimItem, ExpectedDenialStatus, FlagDecision, age_in_days, decide_flag,
    payment_closes, reversal_reopens,
)
from openrcm_denials.entrypoints.expected_denials_api import ManualResolution

CHECK_A, CHECK_B = uuid.uuid4(), uuid.uuid4()


def item(status: ExpectedDenialStatus, *checks: uuid.UUID) -> ClaimItem:
    return ClaimItem(uuid.uuid4(), status, checks)


def test_a_first_flag_opens_an_item():
    assert decide_flag([], CHECK_A) == OPEN


def test_the_same_check_again_changes_nothing_open_or_resolved():
    assert decide_flag([item(ExpectedDenialStatus.OPEN, CHECK_A)], CHECK_A) == IGNORE
    # A person resolved it: the same answer announced again must not reopen it.
    assert decide_flag([item(ExpectedDenialStatus.RESOLVED, CHECK_A)], CHECK_A) == IGNORE
    assert decide_flag([item(ExpectedDenialStatus.OPEN, CHECK_B, CHECK_A)], CHECK_A) == IGNORE


def test_a_newer_check_moves_the_open_item_and_opens_one_after_a_resolved_one():
    open_item = item(ExpectedDenialStatus.OPEN, CHECK_A)
    assert decide_flag([item(ExpectedDenialStatus.RESOLVED, uuid.uuid4()), open_item], CHECK_B) == FlagDecision(
        "reflag", open_item.id)
    assert decide_flag([item(ExpectedDenialStatus.RESOLVED, CHECK_A)], CHECK_B) == OPEN


def test_only_a_payment_closes_an_item_as_paid():
    assert payment_closes("paid", Decimal("80.00"))
    assert payment_closes("partially_paid", Decimal("0.01"))
    assert not payment_closes("denied", Decimal("0.00"))  # its ClaimDenied closes it as denied
    assert not payment_closes("paid", Decimal("0.00"))  # paid in full by nobody: a zero-pay decision
    assert not payment_closes("not_our_claim", Decimal("0.00"))


def test_only_a_reversal_taking_money_back_reopens_an_item():
    assert reversal_reopens(Decimal("180.00"))
    assert not reversal_reopens(Decimal("0.00"))  # a reversed denial: no payment had settled anything


def test_the_api_takes_exactly_the_manual_resolutions():
    assert set(typing.get_args(ManualResolution)) == {resolution.value for resolution in MANUAL_RESOLUTIONS}
    assert "denied" not in typing.get_args(ManualResolution) and "paid" not in typing.get_args(ManualResolution)


def test_age_in_whole_days_from_the_flag():
    now = datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc)
    assert age_in_days(now - timedelta(hours=2), now) == 1  # flagged the evening before
    assert age_in_days(now, now) == 0
    assert age_in_days(now - timedelta(days=30), now) == 30
    assert age_in_days(now + timedelta(minutes=5), now) == 0  # a clock a little ahead is not negative age
