"""The clearinghouse webhook endpoint: authentic, fresh, stored before the 2xx, applied once."""

from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa

from openrcm_shared.db import create_engine
from openrcm_shared.http.webhooks import signed_headers

pytestmark = pytest.mark.stack

PATH = "/v1/webhooks/clearinghouse"
NOT_X12 = b'{"this": "is not an acknowledgement"}'


async def stored_delivery(stack, webhook_id: str):
    engine = create_engine(stack.database_url("claims"), pool_size=1)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(
                "SELECT status, error, body FROM clearinghouse_deliveries WHERE webhook_id = :w"),
                {"w": webhook_id})).first()
    finally:
        await engine.dispose()


async def test_bad_signature_or_stale_timestamp_is_refused_and_not_stored(stack):
    body = b"ISA*00*..."
    async with httpx.AsyncClient(base_url=stack.services["claims"].url) as client:
        forged = signed_headers(["whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="], "msg_forged", body)
        assert (await client.post(PATH, content=body, headers=forged)).status_code == 401
        stale = signed_headers([stack.webhook_secret()], "msg_stale", body, timestamp=1_600_000_000)
        response = await client.post(PATH, content=body, headers=stale)
        assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"
    assert await stored_delivery(stack, "msg_forged") is None
    assert await stored_delivery(stack, "msg_stale") is None


async def test_malformed_body_is_a_400_with_the_raw_body_kept_and_a_repeat_is_a_no_op(stack):
    webhook_id = f"msg_{uuid.uuid4().hex}"
    headers = signed_headers([stack.webhook_secret()], webhook_id, NOT_X12)
    async with httpx.AsyncClient(base_url=stack.services["claims"].url) as client:
        response = await client.post(PATH, content=NOT_X12, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["webhook_id"] == webhook_id
        stored = await stored_delivery(stack, webhook_id)
        assert (stored.status, bytes(stored.body)) == ("failed", NOT_X12) and "ISA" in stored.error

        again = await client.post(PATH, content=NOT_X12, headers=headers)
        assert again.status_code == 200 and again.json() == {"webhook_id": webhook_id, "duplicate": True}


async def test_rotation_accepts_a_delivery_signed_with_old_and_new_secrets(stack):
    webhook_id = f"msg_{uuid.uuid4().hex}"
    headers = signed_headers(["whsec_" + "T0xET0xET0xET0xET0xET0xET0xET0xET0xET0xET0w=", stack.webhook_secret()],
                             webhook_id, NOT_X12)
    async with httpx.AsyncClient(base_url=stack.services["claims"].url) as client:
        response = await client.post(PATH, content=NOT_X12, headers=headers)
    assert response.status_code == 400  # authenticated (else 401), then refused as not X12


FAULT_FUNCTION = """
CREATE OR REPLACE FUNCTION test_refuse_claim_moves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.tenant_id = '{tenant}' AND NEW.status IN ('accepted_by_clearinghouse', 'accepted_by_payer', 'rejected') THEN
    RAISE EXCEPTION 'injected deadlock' USING ERRCODE = '40P01';
  END IF;
  RETURN NEW;
END $$
"""
FAULT_TRIGGER = ("CREATE TRIGGER test_refuse_claim_moves BEFORE UPDATE ON claims FOR EACH ROW "
                 "EXECUTE FUNCTION test_refuse_claim_moves()")


async def test_an_acknowledgement_that_failed_to_apply_is_applied_later_never_answered_as_done(api, stack, tenant):
    """The 999 and 277CA are stored, then applying them fails (a deadlock, injected by a trigger on
    the real database for this practice's claims only): the sender is told to retry, not
    "duplicate", and once the fault is gone the deliveries are applied and the claim moves on."""
    from tests.support import claim_in, encounter, eventually

    engine = create_engine(stack.database_url("claims"), pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(FAULT_FUNCTION.format(tenant=tenant)))
            await conn.execute(sa.text(FAULT_TRIGGER))
        claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()

        async def delivery_statuses() -> list[str]:
            async with engine.connect() as conn:
                return (await conn.execute(sa.text(
                    "SELECT d.status FROM clearinghouse_deliveries d JOIN submissions s "
                    "ON d.webhook_id LIKE s.clearinghouse_batch_id || '.%' "
                    "JOIN claim_submissions cs ON cs.submission_id = s.id WHERE cs.claim_id = :c"),
                    {"c": claim["id"]})).scalars().all()

        async def stored_but_not_applied():
            statuses = await delivery_statuses()
            assert statuses and set(statuses) == {"received"}, statuses
            return True
        await eventually(stored_but_not_applied, timeout=60)
        assert (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()["status"] == "submitted"
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP TRIGGER IF EXISTS test_refuse_claim_moves ON claims"))
            await conn.execute(sa.text("DROP FUNCTION IF EXISTS test_refuse_claim_moves()"))
        await engine.dispose()
    engine = create_engine(stack.database_url("claims"), pool_size=1)
    try:
        async def every_delivery_applied():
            statuses = await delivery_statuses()
            assert len(statuses) == 2 and set(statuses) == {"processed"}, statuses  # the 999 and the 277CA
            return True
        await eventually(every_delivery_applied, timeout=90)
    finally:
        await engine.dispose()
    accepted = await claim_in(api, claim["id"], "accepted_by_payer", timeout=30)
    assert [h["kind"] for h in accepted["history"]][-2:] == ["acknowledged_999", "accepted_277ca"], accepted["history"]
