"""The whole round trip on the real stack: encounter -> 837 -> clearinghouse 999/277CA -> the
simulated payer adjudicates -> 835 by webhook -> posted -> ClaimPaymentPosted / ClaimDenied /
ClaimReversed -> claim state, denial case, patient balance. Amounts checked by hand."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.support import claim_in, encounter, eventually

pytestmark = pytest.mark.stack


@asynccontextmanager
async def payer_rules(stack, rules: list[dict]):
    """The simulated payer's adjudication rules for one test (the simulator has none otherwise)."""
    async with httpx.AsyncClient(base_url=stack.clearinghouse_url) as clearinghouse:
        put = await clearinghouse.put("/v1/adjudication-rules", json=rules)
        assert put.status_code in (200, 204), put.text
        try:
            yield
        finally:
            await clearinghouse.put("/v1/adjudication-rules", json=[])


def member_id() -> str:
    return "RT" + uuid.uuid4().hex[:8].upper()


async def submit(api, member: str) -> dict:
    patient_id = f"PAT-{uuid.uuid4().hex[:8]}"
    body = encounter(patient_id=patient_id)
    body["coverage"]["member_id"] = member
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    claim["patient_id"] = patient_id
    return claim


async def test_partial_denial_round_trip_to_claim_denial_case_and_patient_balance(api, stack):
    member = member_id()
    # The payer allows 100.00 for 99213 and takes 20 % coinsurance; it denies 36415 as bundled:
    #   line 1: 125.00 - CO45 25.00 - PR2 20.00 = 80.00      line 2: 15.50 - CO97 15.50 = 0.00
    rule = {"member_id_pattern": f"^{member}$", "action": "deny",
            "denial": {"carc": "97", "rarcs": ["M15"], "procedure_codes": ["36415"]},
            "fee_schedule": {"allowed": {"99213": "100.00"}, "coinsurance_percent": "20"}}
    async with payer_rules(stack, [rule]):
        claim = await submit(api, member)
        paid = await claim_in(api, claim["id"], "partially_paid", timeout=60)
    assert paid["paid_amount"] == "80.00"

    ledger = (await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")).json()
    assert ledger["balances"] == {"insurance_receivable": "-140.50", "payer_payment": "80.00",
                                  "contractual_adjustment": "40.50", "patient_responsibility": "20.00"}
    [payment] = ledger["payments"]
    assert payment["payer_claim_control_number"] == paid["payer_claim_control_number"]

    async def denial_case_and_balance():
        [case] = (await api["denials"].get("/v1/denials")).json()["items"]
        assert (case["claim_id"], case["denied_amount"], case["primary_carc"]) == (claim["id"], "15.50", "97")
        account = (await api["collections"].get(f"/v1/accounts/{claim['patient_id']}")).json()
        assert account["balance"] == "20.00", account
        return True
    await eventually(denial_case_and_balance)


async def test_reversal_and_correction_from_the_payer(api, stack):
    member = member_id()
    # First 80 % of charge, no patient share: 125.00 -> 100.00, 15.50 -> 12.40 = 112.40 paid.
    # Then reversed (-112.40) and paid again at 100 %: 140.50. The claim ends paid with 140.50.
    rule = {"member_id_pattern": f"^{member}$", "action": "reverse_and_correct", "correction_delay_seconds": 1,
            "fee_schedule": {"percent_of_charge": "80"},
            "corrected_fee_schedule": {"percent_of_charge": "100"}}
    async with payer_rules(stack, [rule]):
        claim = await submit(api, member)

        async def corrected():
            ledger = (await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")).json()
            assert [p["claim_status_code"] for p in ledger.get("payments", [])] == ["1", "22", "1"], ledger
            return ledger
        ledger = await eventually(corrected, timeout=60)
    assert ledger["balances"]["payer_payment"] == "140.50"  # 112.40 - 112.40 + 140.50
    assert ledger["balances"]["insurance_receivable"] == "-140.50"
    assert ledger["balances"].get("contractual_adjustment", "0.00") == "0.00"  # 28.10 - 28.10

    async def claim_paid_in_full():  # paid (112.40), back with the payer (0.00), paid again (140.50)
        body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        assert (body["status"], body["paid_amount"]) == ("paid", "140.50"), [h["kind"] for h in body["history"]]
        return body
    await eventually(claim_paid_in_full, timeout=30)
