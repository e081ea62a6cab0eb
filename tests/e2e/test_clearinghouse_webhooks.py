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
