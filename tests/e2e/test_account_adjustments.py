"""Adjustments and write-offs on the real stack: posted at once up to the approval threshold (100.00
by default), above it only when a second person (another token `sub`) approves; reversible by a new
adjustment; guarantor and account holds. Synthetic data only."""

from __future__ import annotations

import httpx
import pytest

from conftest import auth_headers
from tests.e2e.test_patient_payments import account_owing, balance_of

pytestmark = pytest.mark.stack


async def test_small_write_offs_post_and_large_ones_wait_for_a_second_person(api, stack, tenant):
    patient_id, (claim,) = await account_owing(api, stack, tenant, "150.00")
    path = f"/v1/accounts/{patient_id}/adjustments"
    small = await api["collections"].post(path, json={"kind": "prompt_pay_discount", "reason_code": "PPD5",
                                                      "amount": "7.50", "claim_id": str(claim)})
    assert small.status_code == 201, small.text
    assert small.json()["status"] == "posted"
    assert await balance_of(api, patient_id) == "142.50"

    charity = await api["collections"].post(path, json={"kind": "charity", "reason_code": "FAP100", "amount": "142.50"})
    assert [e["pointer"] for e in charity.json()["errors"]] == ["/financial_assistance"]
    too_much = await api["collections"].post(path, json={"kind": "bad_debt", "reason_code": "BD", "amount": "142.51"})
    assert [e["pointer"] for e in too_much.json()["errors"]] == ["/amount"]

    large = (await api["collections"].post(path, json={"kind": "charity", "reason_code": "FAP100", "amount": "142.50",
                                                       "financial_assistance": True})).json()
    assert large["status"] == "pending_approval" and await balance_of(api, patient_id) == "142.50"
    own = await api["collections"].post(f"{path}/{large['id']}/approve")
    assert own.status_code == 403 and own.json()["type"].endswith("/second-approver-required")
    supervisor = auth_headers(stack, tenant, subject="billing-supervisor")
    async with httpx.AsyncClient(base_url=stack.services["collections"].url, headers=supervisor) as second:
        approved = await second.post(f"{path}/{large['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("posted", "billing-supervisor")
    assert await balance_of(api, patient_id) == "0.00"

    reversed_ = await api["collections"].post(f"{path}/{small.json()['id']}/reverse")
    assert reversed_.status_code == 201 and reversed_.json()["reverses_adjustment_id"] == small.json()["id"]
    assert await balance_of(api, patient_id) == "7.50"
    again = await api["collections"].post(f"{path}/{small.json()['id']}/reverse")
    assert again.status_code == 409
    statuses = sorted(a["status"] for a in (await api["collections"].get(path)).json()["items"])
    assert statuses == ["posted", "posted", "reversed"]


async def test_a_guarantor_and_a_hold_on_the_account(api, stack, tenant):
    patient_id, _ = await account_owing(api, stack, tenant, "10.00")
    guarantor = {"name": "Pat Parent", "relationship": "parent",
                 "address": {"line1": "12 Example Lane", "city": "Springfield", "state": "IL", "postal_code": "62701"}}
    put = await api["collections"].put(f"/v1/accounts/{patient_id}/guarantor", json=guarantor)
    assert put.status_code == 200, put.text
    held = await api["collections"].put(f"/v1/accounts/{patient_id}/hold", json={"reason": "bankruptcy"})
    assert held.json()["hold_reason"] == "bankruptcy"
    bad = await api["collections"].put(f"/v1/accounts/{patient_id}/hold", json={"reason": "on_vacation"})
    assert bad.status_code == 422 and [e["pointer"] for e in bad.json()["errors"]] == ["/reason"]
    account = (await api["collections"].get(f"/v1/accounts/{patient_id}")).json()
    assert (account["guarantor"]["relationship"], account["hold_reason"]) == ("parent", "bankruptcy")
