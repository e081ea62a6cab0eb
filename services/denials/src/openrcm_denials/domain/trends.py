"""Denial trends: is a payer denying a procedure for one category far more than it used to?

Counts come from daily buckets (denied lines per payer x procedure x category; adjudicated lines per
payer x procedure, the denominator). For the day D of a new denial:

- recent window: the 7 days ending D; baseline: the 90 days before that window;
- rate = denied lines / adjudicated lines of the window (a window with more denials than adjudications
  counted, as when the adjudications predate the service, uses the denials as the denominator);
- a spike: at least MIN_DENIALS denials in 7 days, a baseline of at least MIN_BASELINE_LINES adjudicated
  lines (without history there is nothing to compare with), and a 7-day rate at least SPIKE_RATIO times
  the baseline rate (a baseline rate under BASELINE_FLOOR counts as BASELINE_FLOOR, so a payer that
  never denied a code does not spike on its first two denials);
- an episode starts at the first spike (DenialTrendDetected, once) and ends when the ratio falls under
  END_RATIO or the 7-day count under MIN_DENIALS; a later spike starts a new episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

RECENT_DAYS = 7
MONTH_DAYS = 30
BASELINE_DAYS = 90
MIN_DENIALS = 5
MIN_BASELINE_LINES = 10
SPIKE_RATIO = Decimal(3)
END_RATIO = Decimal("1.5")
BASELINE_FLOOR = Decimal("0.02")
_RATE = Decimal("0.0001")


@dataclass(frozen=True)
class Window:
    first_day: date
    last_day: date


def recent_window(day: date, days: int = RECENT_DAYS) -> Window:
    return Window(day - timedelta(days=days - 1), day)


def baseline_window(day: date) -> Window:
    recent = recent_window(day)
    return Window(recent.first_day - timedelta(days=BASELINE_DAYS), recent.first_day - timedelta(days=1))


def rate(denials: int, adjudicated: int) -> Decimal:
    denominator = max(denials, adjudicated)
    return (Decimal(denials) / denominator).quantize(_RATE) if denominator else Decimal(0)


@dataclass(frozen=True)
class TrendReading:
    denials_7d: int
    adjudicated_7d: int
    rate_7d: Decimal
    baseline_denials: int
    baseline_adjudicated: int
    baseline_rate: Decimal
    ratio: Decimal | None

    @property
    def is_spike(self) -> bool:
        return (self.denials_7d >= MIN_DENIALS and self.baseline_adjudicated >= MIN_BASELINE_LINES
                and self.ratio is not None and self.ratio >= SPIKE_RATIO)

    @property
    def has_subsided(self) -> bool:
        return self.denials_7d < MIN_DENIALS or self.ratio is None or self.ratio < END_RATIO


def reading(denials_7d: int, adjudicated_7d: int, baseline_denials: int, baseline_adjudicated: int) -> TrendReading:
    recent = rate(denials_7d, adjudicated_7d)
    baseline = rate(baseline_denials, baseline_adjudicated)
    ratio = None
    if baseline_adjudicated >= MIN_BASELINE_LINES:
        ratio = (recent / max(baseline, BASELINE_FLOOR)).quantize(Decimal("0.01"))
    return TrendReading(denials_7d, adjudicated_7d, recent, baseline_denials, baseline_adjudicated, baseline, ratio)
