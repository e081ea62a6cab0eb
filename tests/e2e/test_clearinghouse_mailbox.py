"""Documents whose webhooks never arrive are taken from the clearinghouse's mailbox.

The simulator is told to give up on every 277CA and 835 webhook at once (as a clearinghouse does
once its retry budget is spent while a receiver is down); the claim must still be accepted and
paid, by claims and remittance reconciling with the mailbox (every 10 s in the local stack, for
documents 30 s old).
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.support import claim_in, encounter, eventually

pytestmark = pytest.mark.stack

PAY = [{"member_id_pattern": "^MBX", "action": "pay", "fee_schedule": {"percent_of_charge": "80",
                                                                         "coinsurance_percent": "20"}}]


async def recovered(service, kind: str) -> int:
    async with httpx.AsyncClient(base_url=service.url) as client:
        metrics = (await client.get("/metrics")).text
    found = re.search(rf'openrcm_clearinghouse_mailbox_recovered_total\{{kind="{kind}"\}} (\S+)', metrics)
    return int(float(found.group(1))) if found else 0


async def test_a_claim_whose_277ca_and_835_webhooks_were_given_up_on_is_accepted_and_paid(api, stack):
    worker, remittance = stack.services["claims-worker"], stack.services["remittance"]
    before = await recovered(worker, "277CA"), await recovered(remittance, "835")
    body = encounter()
    body["coverage"]["member_id"] = f"MBX{uuid.uuid4().hex[:8].upper()}"
    async with httpx.AsyncClient(base_url=stack.clearinghouse_url) as clearinghouse:
        assert (await clearinghouse.put("/v1/adjudication-rules", json=PAY)).status_code == 200
        dropped = await clearinghouse.put("/v1/delivery-faults", json={"drop_kinds": ["277CA", "835"]})
        assert dropped.json() == {"drop_kinds": ["277CA", "835"]}
        try:
            claim = (await api["claims"].post("/v1/encounters", json=body)).json()
            paid = await claim_in(api, claim["id"], "paid", timeout=120)
        finally:
            await clearinghouse.put("/v1/delivery-faults", json={"drop_kinds": []})
            await clearinghouse.put("/v1/adjudication-rules", json=[])
        remittances = (await clearinghouse.get("/v1/remittances")).json()
    era = next(r for r in remittances if any(c["patient_control_number"] == paid["patient_control_number"]
                                             for c in r["claims"]))
    assert era["delivery"]["status"] in ("failed", "held")  # its webhook was never delivered
    # The 277CA and the 835 came from the mailbox in either order (a payment is taken before the
    # 277CA too: payers remit before their acknowledgement arrives), so the timeline may lack it.
    assert paid["paid_amount"] == "89.92"

    async def both_taken_from_the_mailbox():  # each service on its own round
        assert await recovered(worker, "277CA") >= before[0] + 1
        assert await recovered(remittance, "835") >= before[1] + 1
        return True
    await eventually(both_taken_from_the_mailbox, timeout=90)

    ledger = (await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")).json()
    assert ledger, "the 835 taken from the mailbox was posted"


async def test_the_mailbox_lists_documents_from_a_cursor_and_serves_their_x12(stack):
    async with httpx.AsyncClient(base_url=stack.clearinghouse_url) as clearinghouse:
        listed = await clearinghouse.get("/v1/mailbox", params={"kind": "999", "limit": 2})
        assert listed.status_code == 200
        documents = listed.json()["documents"]
        if documents:
            after = await clearinghouse.get("/v1/mailbox", params={"kind": "999", "cursor": documents[-1]["cursor"],
                                                                   "limit": 2})
            assert documents[-1]["id"] not in [d["id"] for d in after.json()["documents"]]
            x12 = await clearinghouse.get(f"/v1/mailbox/{documents[0]['id']}")
            assert x12.headers["content-type"].startswith("application/edi-x12") and x12.text.startswith("ISA")
        unknown = await clearinghouse.get("/v1/mailbox", params={"kind": "837"})
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "/query/kind"
        assert (await clearinghouse.get("/v1/mailbox/no-such-document")).status_code == 404
