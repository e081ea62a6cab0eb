"""ERAs that real payers send wrong: a claim whose own amounts do not balance inside an otherwise
balanced payment, amounts beyond the guide's money limits. Held with the reason, never a 500, never a file
stuck in `processing`, and a truthful status on the stored file (issue 14.2)."""

from __future__ import annotations

import pytest

from tests.e2e.test_era_posting import PARTIAL, X12, Era, billed_claim, trace, upload
from tests.era import Svc

pytestmark = pytest.mark.stack


async def file_status(api, file_id: str) -> str:
    return (await api["remittance"].get(f"/v1/remittance-files/{file_id}")).json()["status"]


async def test_a_claim_that_does_not_balance_inside_a_balanced_payment_is_held_with_the_reason(api):
    good, bad = await billed_claim(api), await billed_claim(api)
    era = Era(trace=trace())
    era.claim(good["patient_control_number"], lines=PARTIAL)
    # CLP04 90.00 against lines paying 80.00 and adjustments explaining 45.50 of 140.50: the claim
    # does not balance, while BPR02 (170.00) is the sum of the CLP04s, so the payment does.
    era.claim(bad["patient_control_number"], lines=PARTIAL, paid="90.00")
    response = await upload(api, era)
    assert response.status_code == 202, response.text
    [transaction] = response.json()["transactions"]
    assert transaction["status"] == "held"
    assert any(bad["patient_control_number"] in reason or "claim" in reason.lower()
               for reason in transaction["reasons"] + [d["where"] for d in transaction.get("differences", [])]), \
        transaction
    assert await file_status(api, response.json()["id"]) == "processed"  # read to the end; its payment held
    again = await upload(api, era)  # the same payment again: waiting for review, not posted twice
    assert again.status_code in (200, 202), again.text


async def test_amounts_beyond_the_guides_money_limits_are_refused_not_a_server_error(api):
    claim = await billed_claim(api)
    era = Era(trace=trace())
    huge = "12345678901234567.00"
    era.claim(claim["patient_control_number"], lines=[Svc("99213", huge, huge, [], line=1)])
    response = await upload(api, era)
    assert response.status_code == 422, response.text
    body = response.json()
    assert "monetary amount beyond 99999999.99" in body["error"]["message"], body  # 005010X221A1 B.1.1.3.1.2
    assert (body["error"]["segment_id"], body["error"]["element_position"]) == ("BPR", 2)  # names the element
    assert await file_status(api, body["id"]) == "rejected"


async def test_concurrent_reversals_of_one_claim_never_take_back_the_same_payment(api):
    """Two ERAs, each reversing the claim's payment and paying it again, posted at the same time
    (issue 14.6): each reversal takes back a payment that stood when it was posted, locked in its
    own posting transaction, never one the other had already taken back."""
    import asyncio

    from tests.e2e.test_era_posting import X12

    for _ in range(3):  # the race needs both postings to read before either writes: try a few times
        claim = await billed_claim(api)
        first = Era(trace=trace())
        first.claim(claim["patient_control_number"], lines=PARTIAL)
        assert (await upload(api, first)).status_code == 201
        eras = []
        for _ in range(2):
            era = Era(trace=trace())
            era.claim(claim["patient_control_number"], status="22", lines=[
                Svc("99213", "-125.00", "-80.00", [("CO", "45", "-25.00"), ("PR", "2", "-20.00")], line=1,
                    modifiers=("25",)),
                Svc("36415", "-15.50", "0.00", [("CO", "97", "-15.50")], line=2)])
            era.claim(claim["patient_control_number"], lines=PARTIAL)
            eras.append(era.x12().encode())
        responses = await asyncio.gather(*(api["remittance"].post("/v1/remittances", content=body, headers=X12)
                                           for body in eras))
        assert all(r.status_code in (201, 202) for r in responses), [r.text for r in responses]
        payments = (await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")).json()["payments"]
        reversals = [p for p in payments if p["reversal_of"] is not None]
        targets = [p["reversal_of"] for p in reversals]
        assert len(targets) == len(set(targets)), payments  # no payment taken back twice
        by_id = {p["payment_id"]: p for p in payments}
        for reversal in reversals:
            assert by_id[reversal["reversal_of"]]["reversed_by"] == reversal["payment_id"], payments
