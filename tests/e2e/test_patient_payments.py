"""Patient payments on the real stack: card through the processor port (its local simulator),
idempotent by Idempotency-Key; allocation oldest first or to named claims; too much money kept as a
credit (refunded or applied); a returned check reverses its payment; a card number in the body is
refused without being echoed; the processor's signed settlement webhook. Synthetic data only."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import httpx
import pytest

from openrcm_collections.adapters.payment_processor import settlement_delivery
from openrcm_shared.contracts.remittance import Adjustment, ClaimPaymentPosted, PostedLine
from tests.e2e.claims_parties import publish
from tests.support import eventually

pytestmark = pytest.mark.stack


def decision(tenant: str, patient_id: str, claim_id: uuid.UUID, coinsurance: str) -> ClaimPaymentPosted:
    """A payer paid 100.00 of the one-line claim and left the patient `coinsurance` (PR-2):
    charge = allowed + 100.00 (CO-45), allowed = 100.00 + the patient's share."""
    share = Decimal(coinsurance)
    allowed, paid = share + Decimal("100.00"), Decimal("100.00")
    charge = allowed + Decimal("100.00")
    return ClaimPaymentPosted(
        tenant_id=tenant, claim_id=claim_id, remittance_id=uuid.uuid4(), patient_id=patient_id, payer_id="60054",
        patient_control_number="PCN" + uuid.uuid4().hex[:8], outcome="paid", charge_amount=charge,
        allowed_amount=allowed, paid_amount=paid, patient_responsibility_amount=share,
        adjustments=[Adjustment(line_number=1, group_code="CO", carc="45", amount=Decimal("100.00")),
                     Adjustment(line_number=1, group_code="PR", carc="2", amount=share)],
        lines=[PostedLine(line_number=1, charge_amount=charge, allowed_amount=allowed, paid_amount=paid,
                          patient_responsibility_amount=share)])


async def account_owing(api, stack, tenant: str, *shares: str) -> tuple[str, list[uuid.UUID]]:
    """A patient who owes each share on a claim of its own, posted in this order (the first is oldest).

    Each decision is published once the one before is on the account: the claims are keys of
    different partitions, which a consumer may apply in either order when they arrive together,
    and "oldest" is when a balance reached the account."""
    patient_id, claims, owed = f"PAT-{uuid.uuid4().hex[:8]}", [], Decimal("0.00")
    for share in shares:
        claims.append(uuid.uuid4())
        await publish(stack, decision(tenant, patient_id, claims[-1], share))
        owed += Decimal(share)

        async def posted(expected: str = str(owed)):
            account = (await api["collections"].get(f"/v1/accounts/{patient_id}")).json()
            assert account.get("balance") == expected, account
            return account
        await eventually(posted)
    return patient_id, claims


async def balance_of(api, patient_id: str) -> str:
    return (await api["collections"].get(f"/v1/accounts/{patient_id}")).json()["balance"]


async def test_a_card_payment_goes_to_the_oldest_balance_first_once_per_idempotency_key(api, stack, tenant):
    patient_id, (older, newer) = await account_owing(api, stack, tenant, "30.00", "20.00")
    path = f"/v1/accounts/{patient_id}/payments"
    body = {"amount": "40.00", "method": "card", "processor_token": "tok_visa_approved"}
    first = await api["collections"].post(path, json=body, headers={"Idempotency-Key": "pay-1"})
    assert first.status_code == 201, first.text
    payment = first.json()
    assert [(a["claim_id"], a["amount"]) for a in payment["allocations"]] == [(str(older), "30.00"),
                                                                             (str(newer), "10.00")]
    again = await api["collections"].post(path, json=body, headers={"Idempotency-Key": "pay-1"})
    assert again.status_code == 201 and again.json() == payment and again.headers["Idempotent-Replayed"] == "true"
    assert await balance_of(api, patient_id) == "10.00"  # charged once

    named = await api["collections"].post(path, json={"amount": "5.00", "method": "cash", "allocate_to": [str(newer)]})
    assert named.status_code == 201, named.text
    assert named.json()["allocations"] == [{"claim_id": str(newer), "amount": "5.00"}]
    elsewhere = await api["collections"].post(path, json={"amount": "5.00", "method": "cash",
                                                          "allocate_to": [str(uuid.uuid4())]})
    assert elsewhere.status_code == 422
    assert [e["pointer"] for e in elsewhere.json()["errors"]] == ["/allocate_to/0"]


async def test_a_slow_processor_holds_up_no_other_posting_on_the_account(api, tenant):
    """The card payment waits for the processor (`tok_slow`: 2 s) with no lock on the account, so
    a cash payment on the same account taken meanwhile is recorded first."""
    patient_id = f"PAT-{uuid.uuid4().hex[:8]}"
    path = f"/v1/accounts/{patient_id}/payments"
    opened = await api["collections"].post(path, json={"amount": "1.00", "method": "cash"})
    assert opened.status_code == 201, opened.text
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def pay(body: dict) -> tuple[httpx.Response, float]:
        response = await api["collections"].post(path, json=body,
                                                 headers={"Idempotency-Key": f"slow-{uuid.uuid4().hex}"})
        return response, loop.time() - started
    card = asyncio.create_task(pay({"amount": "5.00", "method": "card", "processor_token": "tok_slow_visa"}))
    await asyncio.sleep(0.5)  # the card payment is with the processor now
    (cash, cash_done), (charged, card_done) = await pay({"amount": "2.00", "method": "cash", "reference": "R-1"}), \
        await card
    assert (cash.status_code, charged.status_code) == (201, 201), (cash.text, charged.text)
    assert cash_done < card_done, (cash_done, card_done)
    assert charged.json()["processor_capture_id"].startswith("cap_")
    assert await balance_of(api, patient_id) == "-8.00"


async def test_declines_network_errors_and_card_numbers_record_nothing(api, stack, tenant):
    patient_id, _ = await account_owing(api, stack, tenant, "25.00")
    path = f"/v1/accounts/{patient_id}/payments"
    declined = await api["collections"].post(path, json={"amount": "25.00", "method": "card",
                                                         "processor_token": "tok_decline_insufficient"})
    assert declined.status_code == 402 and declined.json()["type"].endswith("/payment-declined")
    unavailable = await api["collections"].post(path, json={"amount": "25.00", "method": "ach",
                                                            "processor_token": "tok_network_error"},
                                                headers={"Idempotency-Key": "net-1"})
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"]
    card = await api["collections"].post(path, json={"amount": "25.00", "method": "card",
                                                     "processor_token": "tok_visa",
                                                     "reference": "4111 1111 1111 1111"})
    assert card.status_code == 422 and card.json()["type"].endswith("/card-number-refused")
    assert "4111" not in card.text
    missing_token = await api["collections"].post(path, json={"amount": "25.00", "method": "card"})
    assert [e["pointer"] for e in missing_token.json()["errors"]] == ["/processor_token"]
    assert await balance_of(api, patient_id) == "25.00"


async def test_too_much_money_is_a_credit_refunded_or_applied_and_a_returned_check_is_reversed(api, stack, tenant):
    patient_id, (claim,) = await account_owing(api, stack, tenant, "25.00")
    path = f"/v1/accounts/{patient_id}/payments"
    paid = await api["collections"].post(path, json={"amount": "1000000.00", "method": "card",
                                                     "processor_token": "tok_visa"})
    assert paid.status_code == 201, paid.text
    assert [a["amount"] for a in paid.json()["allocations"]] == ["25.00", "999975.00"]
    assert await balance_of(api, patient_id) == "-999975.00"
    credits = (await api["collections"].get("/v1/credit-balances", params={"holder": "patient"})).json()["items"]
    assert [(c["patient_id"], c["amount"]) for c in credits] == [(patient_id, "999975.00")]

    too_much = await api["collections"].post(f"/v1/accounts/{patient_id}/refunds", json={"amount": "999975.01"})
    assert [e["pointer"] for e in too_much.json()["errors"]] == ["/amount"]
    refunded = await api["collections"].post(f"/v1/accounts/{patient_id}/refunds",
                                             json={"amount": "999965.00", "payment_id": paid.json()["id"]})
    assert refunded.status_code == 201, refunded.text
    assert refunded.json()["method"] == "card"
    assert await balance_of(api, patient_id) == "-10.00"

    await publish(stack, decision(tenant, patient_id, uuid.uuid4(), "15.00"))  # a new balance arrives

    async def owing():
        assert await balance_of(api, patient_id) == "5.00"
        return True
    await eventually(owing)
    applied = (await api["collections"].post(f"/v1/accounts/{patient_id}/credits/apply")).json()
    assert [a["amount"] for a in applied["applied"]] == ["10.00"]
    assert await balance_of(api, patient_id) == "5.00"  # applying moves no money, it says where it went

    check = (await api["collections"].post(path, json={"amount": "5.00", "method": "check",
                                                       "reference": "CHK 1042"})).json()
    assert await balance_of(api, patient_id) == "0.00"
    returned = await api["collections"].post(f"{path}/{check['id']}/return", json={"reason": "R01"})
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert await balance_of(api, patient_id) == "5.00"
    ledger = (await api["collections"].get(f"/v1/accounts/{patient_id}")).json()["ledger"]
    assert {e["entry_kind"] for e in ledger} >= {"payment", "refund", "credit_applied", "payment_returned",
                                                 "patient_responsibility"}


async def test_the_processors_signed_settlement_webhook_settles_and_returns_payments(api, stack, tenant):
    patient_id, _ = await account_owing(api, stack, tenant, "60.00")
    payment = (await api["collections"].post(f"/v1/accounts/{patient_id}/payments", json={
        "amount": "60.00", "method": "ach", "processor_token": "tok_bank_ok"})).json()
    payments = (await api["collections"].get(f"/v1/accounts/{patient_id}/payments")).json()["items"]
    assert [p["id"] for p in payments] == [payment["id"]]
    capture_id = payment["processor_capture_id"]
    url = stack.services["collections"].url + "/v1/webhooks/payment-processor"
    async with httpx.AsyncClient() as processor:
        headers, body = settlement_delivery(["whsec_" + "d3Jvbmcgc2VjcmV0"], "payment.returned", capture_id, tenant)
        assert (await processor.post(url, content=body, headers=headers)).status_code == 401  # not our secret
        headers, body = settlement_delivery([stack.payment_webhook_secret()], "payment.returned", capture_id, tenant,
                                            reason="R01")
        answer = await processor.post(url, content=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["applied"] is True
        again = await processor.post(url, content=body, headers=headers)
        assert again.json()["applied"] is False  # a redelivery changes nothing
    assert await balance_of(api, patient_id) == "60.00"
