"""The spike rule: enough denials, a baseline to compare with, three times its rate; an episode ends under 1.5x."""

from datetime import date
from decimal import Decimal

from openrcm_denials.domain.trends import baseline_window, rate, reading, recent_window


def test_windows_are_the_last_seven_days_and_the_ninety_before_them():
    recent, baseline = recent_window(date(2026, 12, 10)), baseline_window(date(2026, 12, 10))
    assert (recent.first_day, recent.last_day) == (date(2026, 12, 4), date(2026, 12, 10))
    assert (baseline.first_day, baseline.last_day) == (date(2026, 9, 5), date(2026, 12, 3))


def test_rate_never_exceeds_one_when_adjudications_were_not_all_counted():
    assert rate(3, 0) == Decimal(1) and rate(2, 8) == Decimal("0.25") and rate(0, 0) == 0


def test_fourteen_denials_at_four_times_the_usual_rate_is_a_spike():
    spike = reading(denials_7d=14, adjudicated_7d=40, baseline_denials=45, baseline_adjudicated=520)
    assert spike.rate_7d == Decimal("0.35") and spike.baseline_rate == Decimal("0.0865")
    assert spike.ratio == Decimal("4.05") and spike.is_spike and not spike.has_subsided


def test_too_few_denials_or_no_history_is_no_spike():
    assert not reading(4, 4, 0, 500).is_spike
    no_history = reading(10, 10, 0, 5)
    assert no_history.ratio is None and not no_history.is_spike


def test_a_payer_that_never_denied_the_code_is_compared_with_the_floor():
    first_denials = reading(5, 100, 0, 400)  # 5 % against a floor of 2 %: 2.5x, not yet a spike
    assert first_denials.ratio == Decimal("2.50") and not first_denials.is_spike


def test_an_episode_subsides_below_one_and_a_half_times_the_baseline():
    assert reading(6, 60, 40, 400).has_subsided  # 10 % vs 10 %
    assert not reading(6, 30, 40, 400).has_subsided  # 20 % vs 10 %
