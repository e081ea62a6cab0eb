"""The worklist's priority: recoverable dollars x likelihood of recovery x urgency, each part as documented."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from openrcm_denials.domain.case_lines import DeniedLine, categorize_case
from openrcm_denials.domain.categories import Category, categorizer
from openrcm_denials.domain.priority import Outcomes, likelihood, needs_daily_refresh, priority, urgency

TODAY = date(2026, 12, 1)


def test_base_likelihood_until_the_payer_has_history_then_blended():
    assert likelihood("coding", Outcomes()) == (Decimal("0.75"), "category")
    # 5 outcomes weigh as much as the base rate: (won 4 + half of 1 partial + 5 x 0.75) / (6 + 5)
    chance, basis = likelihood("coding", Outcomes(won=4, partially_won=1, lost=1))
    assert basis == "payer_history" and chance == Decimal("0.7500")
    losing, _ = likelihood("coding", Outcomes(lost=20))
    assert losing == Decimal("0.1500")  # 5 x 0.75 / 25


@pytest.mark.parametrize("days_left,expected", [
    (None, "1"), (90, "1"), (30, "1"), (15, "2.0000"), (0, "3.0000"), (-1, "0.25")])
def test_urgency_rises_over_the_last_thirty_days_and_drops_past_the_deadline(days_left, expected):
    assert urgency(days_left) == Decimal(expected)


def test_priority_multiplies_the_parts_to_the_cent_and_shows_them():
    ranked = priority(Decimal("200.00"), "medical_necessity", Outcomes(), TODAY + timedelta(days=15), TODAY)
    assert ranked.score == Decimal("200.00")  # 200 x 0.50 x 2
    assert ranked.parts() == {"recoverable_amount": "200.00", "likelihood": "0.50", "likelihood_basis": "category",
                              "outcomes_seen": 0, "days_left": 15, "urgency": "2.0000"}


def test_a_small_correctable_denial_near_its_deadline_outranks_a_large_duplicate():
    near = priority(Decimal("150.00"), Category.MISSING_INFORMATION, Outcomes(), TODAY + timedelta(days=3), TODAY)
    duplicate = priority(Decimal("900.00"), Category.DUPLICATE, Outcomes(), TODAY + timedelta(days=80), TODAY)
    assert near.score > duplicate.score


def test_the_daily_refresh_covers_the_urgent_window_and_the_day_after_the_deadline():
    assert needs_daily_refresh(TODAY + timedelta(days=30), TODAY)
    assert needs_daily_refresh(TODAY - timedelta(days=1), TODAY)
    assert not needs_daily_refresh(TODAY + timedelta(days=31), TODAY)
    assert not needs_daily_refresh(TODAY - timedelta(days=2), TODAY)
    assert not needs_daily_refresh(None, TODAY)


def test_a_case_takes_the_category_of_its_largest_denial_line_and_leaves_contractual_lines_out():
    lines = [DeniedLine(1, "CO", "45", (), Decimal("80.00")),  # contractual reduction on the same line
             DeniedLine(1, "CO", "50", (), Decimal("120.00")),
             DeniedLine(2, "CO", "16", ("M51",), Decimal("60.00"))]
    case = categorize_case(categorizer(), lines, overrides={}, procedures={1: "99214", 2: "36415"})
    assert case.recoverable_amount == Decimal("180.00")
    assert case.top.found.category is Category.MEDICAL_NECESSITY and case.top.procedure_code == "99214"
    assert [line.found.is_denial for line in case.lines] == [False, True, True]
    assert case.lines[2].found.category is Category.CODING
    only_contractual = categorize_case(categorizer(), lines[:1], overrides={}, procedures={})
    assert not only_contractual.is_denial
