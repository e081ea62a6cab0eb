"""Payment plans on the real stack: the $2,400 plan over 12 months (autopay through the processor
simulator), installments that cannot cover the total refused, a missed installment through the
grace period to delinquent then defaulted, renegotiation, early payoff and cancellation. The plan
runs are driven with an explicit day (POST /v1/payment-plans/due-runs), never by sleeping."""

from __future__ import annotations

import pytest

from tests.e2e.test_patient_payments import account_owing, balance_of

pytestmark = pytest.mark.stack


async def run_on(api, day: str) -> dict:
    response = await api["collections"].post("/v1/payment-plans/due-runs", json={"as_of": day})
    assert response.status_code == 200, response.text
    return {plan["id"]: plan for plan in response.json()["plans"]}


async def test_the_2400_dollar_plan_over_12_months_with_autopay(api, stack, tenant):
    patient_id, _ = await account_owing(api, stack, tenant, "2400.00")
    path = f"/v1/accounts/{patient_id}/payment-plans"
    body = {"total": "2400.00", "installments": 12, "frequency": "monthly", "first_due_date": "2027-01-31",
            "autopay_token": "tok_visa_plan"}
    refused = await api["collections"].post(path, json={**body, "installment_amount": "100.00"})
    assert refused.status_code == 422 and [e["pointer"] for e in refused.json()["errors"]] == ["/installments"]
    above = await api["collections"].post(path, json={**body, "total": "2400.01"})
    assert [e["pointer"] for e in above.json()["errors"]] == ["/total"]

    created = await api["collections"].post(path, json=body)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert [line["amount"] for line in plan["schedule"]] == ["200.00"] * 12
    assert [line["due_date"] for line in plan["schedule"]][:3] == ["2027-01-31", "2027-02-28", "2027-03-31"]
    assert (plan["status"], plan["remaining"], plan["autopay"]) == ("active", "2400.00", True)
    assert (await api["collections"].post(path, json=body)).status_code == 409  # one open plan per account

    assert (await run_on(api, "2027-01-30"))[plan["id"]]["remaining"] == "2400.00"  # nothing due yet
    after = (await run_on(api, "2027-01-31"))[plan["id"]]
    assert (after["remaining"], after["schedule"][0]["status"]) == ("2200.00", "paid")
    assert (await run_on(api, "2027-01-31"))[plan["id"]]["remaining"] == "2200.00"  # charged once
    assert await balance_of(api, patient_id) == "2200.00"

    payoff = await api["collections"].post(f"/v1/accounts/{patient_id}/payments", json={
        "amount": "2200.00", "method": "check", "reference": "CHK 77"})
    assert payoff.status_code == 201
    closed = (await api["collections"].get(f"/v1/payment-plans/{plan['id']}")).json()
    assert (closed["status"], closed["remaining"]) == ("paid_off", "0.00")


async def test_a_missed_installment_goes_delinquent_then_defaulted_and_is_renegotiated(api, stack, tenant):
    patient_id, _ = await account_owing(api, stack, tenant, "300.00")
    plan = (await api["collections"].post(f"/v1/accounts/{patient_id}/payment-plans", json={
        "total": "300.00", "installment_amount": "110.00", "frequency": "biweekly",
        "first_due_date": "2027-03-01"})).json()
    assert [line["amount"] for line in plan["schedule"]] == ["110.00", "110.00", "80.00"]
    assert (await run_on(api, "2027-03-11"))[plan["id"]]["status"] == "active"  # within the 10-day grace
    assert (await run_on(api, "2027-03-12"))[plan["id"]]["status"] == "delinquent"
    assert (await run_on(api, "2027-04-11"))[plan["id"]]["status"] == "defaulted"  # 41 days past due
    assert plan["id"] not in await run_on(api, "2027-04-12")  # a defaulted plan is no longer run
    assert (await api["collections"].get(f"/v1/payment-plans/{plan['id']}")).json()["status"] == "defaulted"

    renegotiated = await api["collections"].post(f"/v1/payment-plans/{plan['id']}/renegotiate", json={
        "installments": 4, "frequency": "monthly", "first_due_date": "2027-05-01"})
    assert renegotiated.status_code == 200, renegotiated.text
    body = renegotiated.json()
    assert body["status"] == "active" and body["remaining"] == "300.00"
    assert [(line["number"], line["amount"]) for line in body["schedule"] if line["status"] == "scheduled"] == [
        (4, "75.00"), (5, "75.00"), (6, "75.00"), (7, "75.00")]
    cancelled = (await api["collections"].post(f"/v1/payment-plans/{plan['id']}/cancel")).json()
    assert cancelled["status"] == "cancelled"
    assert (await api["collections"].post(f"/v1/payment-plans/{plan['id']}/cancel")).status_code == 409
    assert await balance_of(api, patient_id) == "300.00"  # still owed: back to statements and dunning


async def test_a_returned_check_unpays_the_installments_it_paid(api, stack, tenant):
    """NSF (R01): the installments the check paid are owed again, and a plan it had paid off is open again."""
    patient_id, _ = await account_owing(api, stack, tenant, "300.00")
    plan = (await api["collections"].post(f"/v1/accounts/{patient_id}/payment-plans", json={
        "total": "300.00", "installments": 3, "frequency": "monthly", "first_due_date": "2027-05-01"})).json()
    payments = f"/v1/accounts/{patient_id}/payments"
    first = (await api["collections"].post(payments, json={"amount": "150.00", "method": "check",
                                                            "reference": "CHK 1"})).json()
    paid = (await api["collections"].get(f"/v1/payment-plans/{plan['id']}")).json()
    assert [(line["paid_amount"], line["status"]) for line in paid["schedule"]] == [
        ("100.00", "paid"), ("50.00", "scheduled"), ("0.00", "scheduled")]
    second = (await api["collections"].post(payments, json={"amount": "150.00", "method": "check",
                                                             "reference": "CHK 2"})).json()
    assert (await api["collections"].get(f"/v1/payment-plans/{plan['id']}")).json()["status"] == "paid_off"

    returned = await api["collections"].post(f"{payments}/{first['id']}/return", json={"reason": "R01"})
    assert returned.status_code == 200, returned.text
    reopened = (await api["collections"].get(f"/v1/payment-plans/{plan['id']}")).json()
    assert (reopened["status"], reopened["remaining"]) == ("active", "150.00")
    # The first check paid installment 1 and half of 2; the second paid the rest of 2 and all of 3.
    assert [(line["paid_amount"], line["status"]) for line in reopened["schedule"]] == [
        ("0.00", "scheduled"), ("50.00", "scheduled"), ("100.00", "paid")]
    assert await balance_of(api, patient_id) == "150.00"
    assert second["status"] == "posted"
