"""A case's priority on the worklist: what working it is expected to bring back, sooner first.

    priority = recoverable_amount x likelihood x urgency

- recoverable_amount: the dollars of the case's denial lines (lines that are not denials, such as a
  CO-45 contractual reduction on the same line, are left out);
- likelihood of recovery: the category's base rate until this payer has a history for the category,
  then blended with it: (wins + K x base) / (outcomes + K), wins = won + 0.5 x partially_won, outcomes =
  won + partially_won + lost, K = 5 (five outcomes weigh as much as the base rate);
- urgency from the days left to the deadline of the recommended action: 1 with 30 days or more left,
  rising linearly to 3 on the last day; 0.25 once the deadline has passed (only an exception can help).

Rounded to the cent; stored per case, recomputed when an input changes and daily as deadlines approach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from openrcm_denials.domain.categories import Category

# Starting estimates of how often each kind of denial is recovered once worked (OpenRCM's; a practice's
# own outcomes replace them as they accumulate). Correctable data errors are usually recovered, payer
# policy denials rarely.
BASE_LIKELIHOOD: dict[str, Decimal] = {
    Category.MISSING_INFORMATION: Decimal("0.80"), Category.CODING: Decimal("0.75"),
    Category.COORDINATION_OF_BENEFITS: Decimal("0.70"), Category.ELIGIBILITY: Decimal("0.60"),
    Category.PROVIDER_ENROLLMENT: Decimal("0.60"), Category.MEDICAL_NECESSITY: Decimal("0.50"),
    Category.BUNDLING: Decimal("0.50"), Category.AUTHORIZATION: Decimal("0.45"), Category.PRICING: Decimal("0.35"),
    Category.OTHER: Decimal("0.30"), Category.TIMELY_FILING: Decimal("0.25"), Category.NON_COVERED: Decimal("0.15"),
    Category.DUPLICATE: Decimal("0.10"),
}
HISTORY_WEIGHT = Decimal(5)
URGENT_WITHIN_DAYS = 30
MAX_URGENCY = Decimal(3)
PAST_DEADLINE_URGENCY = Decimal("0.25")
_CENT = Decimal("0.01")
_RATIO = Decimal("0.0001")


@dataclass(frozen=True)
class Outcomes:
    won: int = 0
    partially_won: int = 0
    lost: int = 0

    @property
    def count(self) -> int:
        return self.won + self.partially_won + self.lost


@dataclass(frozen=True)
class Priority:
    score: Decimal
    recoverable_amount: Decimal
    likelihood: Decimal
    likelihood_basis: str  # category | payer_history
    outcomes_seen: int
    days_left: int | None
    urgency: Decimal

    def parts(self) -> dict:
        return {"recoverable_amount": str(self.recoverable_amount), "likelihood": str(self.likelihood),
                "likelihood_basis": self.likelihood_basis, "outcomes_seen": self.outcomes_seen,
                "days_left": self.days_left, "urgency": str(self.urgency)}


def likelihood(category: str | None, history: Outcomes) -> tuple[Decimal, str]:
    base = BASE_LIKELIHOOD.get(category or Category.OTHER, BASE_LIKELIHOOD[Category.OTHER])
    if history.count == 0:
        return base, "category"
    wins = Decimal(history.won) + Decimal(history.partially_won) / 2
    return ((wins + HISTORY_WEIGHT * base) / (history.count + HISTORY_WEIGHT)).quantize(_RATIO), "payer_history"


def urgency(days_left: int | None) -> Decimal:
    if days_left is None:
        return Decimal(1)
    if days_left < 0:
        return PAST_DEADLINE_URGENCY
    short_by = max(0, URGENT_WITHIN_DAYS - days_left)
    return (1 + (MAX_URGENCY - 1) * Decimal(short_by) / URGENT_WITHIN_DAYS).quantize(_RATIO)


def priority(recoverable_amount: Decimal, category: str | None, history: Outcomes, deadline: date | None,
             today: date) -> Priority:
    chance, basis = likelihood(category, history)
    days_left = None if deadline is None else (deadline - today).days
    pressing = urgency(days_left)
    score = (recoverable_amount * chance * pressing).quantize(_CENT, rounding=ROUND_HALF_UP)
    return Priority(score, recoverable_amount, chance, basis, history.count, days_left, pressing)


def needs_daily_refresh(deadline: date | None, today: date) -> bool:
    """Urgency only changes inside the last URGENT_WITHIN_DAYS days and on the day after the deadline."""
    return deadline is not None and (deadline - today).days >= -1 and (deadline - today).days <= URGENT_WITHIN_DAYS
