"""Payment plans: the schedule to the cent, and where a plan stands on a given day.

Schedule: with a number of installments, each is the total divided by the number, rounded down to
the cent, and the last takes the remainder (2,400.00 over 12 = 12 x 200.00; 1,000.00 over 3 = 333.33,
333.33, 333.34). With an amount per installment, as many as it takes, the last one the remainder.
Dates: weekly and every two weeks by 7 and 14 days; monthly on the same day of each month, the
month's last day when it has no such day (the 31st becomes the 30th or the 28th/29th).

Standing on a day (`as_of`): an installment unpaid `grace_days` after its due date is missed and the
plan delinquent; one unpaid `default_days` after its due date defaults the plan (the account goes
back to dunning); every installment paid: paid off.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from openrcm_shared.money import CENT, ZERO

FREQUENCY_DAYS = {"weekly": 7, "biweekly": 14}
MAX_INSTALLMENTS = 120


class UnworkablePlan(ValueError):
    """The installments cannot cover the total (to the cent) as asked; `field` names what to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Installment:
    number: int
    due_date: date
    amount: Decimal


def schedule(total: Decimal, first_due: date, frequency: str, *, installments: int | None = None,
             installment_amount: Decimal | None = None, first_number: int = 1) -> list[Installment]:
    """The installments paying exactly `total`, by count or by amount (one of them, or both when
    they agree: count x amount must cover the total and count - 1 must not)."""
    amounts = _amounts(total, installments, installment_amount)
    return [Installment(first_number + index, due_date(first_due, frequency, index), amount)
            for index, amount in enumerate(amounts)]


def _amounts(total: Decimal, count: int | None, amount: Decimal | None) -> list[Decimal]:
    if count is None and amount is None:
        raise UnworkablePlan("/installments", "give the number of installments or the amount of each")
    if amount is not None:
        needed = int((total / amount).to_integral_value(rounding="ROUND_CEILING"))
        if count is not None and count != needed:
            raise UnworkablePlan("/installments", f"{count} installments of {amount} do not pay {total} "
                                 f"(it takes {needed})")
        count = needed
        if count > MAX_INSTALLMENTS:
            raise UnworkablePlan("/installment_amount", f"{count} installments: at most {MAX_INSTALLMENTS}")
        return [amount] * (count - 1) + [total - amount * (count - 1)]
    assert count is not None
    if count > MAX_INSTALLMENTS:
        raise UnworkablePlan("/installments", f"at most {MAX_INSTALLMENTS} installments")
    each = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    if each < CENT:
        raise UnworkablePlan("/installments", f"{count} installments cannot pay {total}: less than a cent each")
    return [each] * (count - 1) + [total - each * (count - 1)]


def due_date(first_due: date, frequency: str, index: int) -> date:
    if frequency in FREQUENCY_DAYS:
        return first_due + timedelta(days=FREQUENCY_DAYS[frequency] * index)
    month_index = first_due.month - 1 + index
    year, month = first_due.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(first_due.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class InstallmentState:
    number: int
    due_date: date
    amount: Decimal
    paid_amount: Decimal

    @property
    def unpaid(self) -> Decimal:
        return self.amount - self.paid_amount


def plan_standing(installments: list[InstallmentState], as_of: date, *, grace_days: int, default_days: int) -> str:
    """active, delinquent, defaulted or paid_off on `as_of`."""
    open_ones = [i for i in installments if i.unpaid > ZERO]
    if not open_ones:
        return "paid_off"
    if any(as_of > i.due_date + timedelta(days=default_days) for i in open_ones):
        return "defaulted"
    if any(as_of > i.due_date + timedelta(days=grace_days) for i in open_ones):
        return "delinquent"
    return "active"


def apply_to_installments(installments: list[InstallmentState], amount: Decimal) -> list[tuple[int, Decimal]]:
    """(installment number, amount) paid by `amount`, earliest unpaid first; what exceeds the plan is not taken."""
    paid, left = [], amount
    for installment in sorted(installments, key=lambda i: i.number):
        if left <= ZERO:
            break
        taken = min(left, installment.unpaid)
        if taken > ZERO:
            paid.append((installment.number, taken))
            left -= taken
    return paid
