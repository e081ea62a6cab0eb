"""Payment plan schedules to the cent, and where a plan stands on a day (no I/O)."""

from datetime import date
from decimal import Decimal as D

import pytest

from openrcm_collections.domain.payment_plans import (
    InstallmentState, UnworkablePlan, apply_to_installments, plan_standing, schedule,
)


def test_2400_over_12_months():
    plan = schedule(D("2400.00"), date(2027, 1, 31), "monthly", installments=12)
    assert [i.amount for i in plan] == [D("200.00")] * 12
    assert [i.due_date for i in plan][:3] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]
    assert plan[-1].due_date == date(2027, 12, 31) and sum(i.amount for i in plan) == D("2400.00")


def test_the_last_installment_takes_the_remainder():
    assert [i.amount for i in schedule(D("1000.00"), date(2027, 1, 1), "weekly", installments=3)] == [
        D("333.33"), D("333.33"), D("333.34")]
    by_amount = schedule(D("1000.00"), date(2027, 1, 1), "biweekly", installment_amount=D("300.00"))
    assert [(i.due_date.isoformat(), i.amount) for i in by_amount] == [
        ("2027-01-01", D("300.00")), ("2027-01-15", D("300.00")), ("2027-01-29", D("300.00")),
        ("2027-02-12", D("100.00"))]


@pytest.mark.parametrize("kwargs,field", [
    ({"installments": 12, "installment_amount": D("100.00")}, "/installments"),  # 1,200 cannot pay 2,400
    ({}, "/installments"),
    ({"installment_amount": D("10.00")}, "/installment_amount"),  # 240 installments
])
def test_installments_that_cannot_cover_the_total_are_refused(kwargs, field):
    with pytest.raises(UnworkablePlan) as refused:
        schedule(D("2400.00"), date(2027, 1, 1), "monthly", **kwargs)
    assert refused.value.field == field


def test_less_than_a_cent_each_is_refused():
    with pytest.raises(UnworkablePlan):
        schedule(D("0.05"), date(2027, 1, 1), "monthly", installments=12)


def test_grace_then_delinquent_then_defaulted_then_paid_off():
    due = [InstallmentState(1, date(2027, 1, 1), D("200.00"), D("0.00")),
           InstallmentState(2, date(2027, 2, 1), D("200.00"), D("0.00"))]
    standing = lambda day: plan_standing(due, day, grace_days=10, default_days=40)  # noqa: E731
    assert [standing(date(2027, 1, 11)), standing(date(2027, 1, 12)), standing(date(2027, 2, 11))] == [
        "active", "delinquent", "defaulted"]
    paid = [InstallmentState(i.number, i.due_date, i.amount, i.amount) for i in due]
    assert plan_standing(paid, date(2027, 6, 1), grace_days=10, default_days=40) == "paid_off"
    assert apply_to_installments(due, D("250.00")) == [(1, D("200.00")), (2, D("50.00"))]
