"""837 files the clearinghouse refuses, and a crash between sending a file and marking it sent
(issue 14.4): a refused file never blocks the files after it, its claims are held with the reason,
and a file sent twice is taken once (the clearinghouse's idempotency key)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import sqlalchemy as sa

from openrcm_shared.db import create_engine
from tests.support import claim_in, encounter, eventually

pytestmark = pytest.mark.stack


@pytest.fixture
async def claims_db(stack):
    engine = create_engine(stack.database_url("claims"), pool_size=1)
    yield engine
    await engine.dispose()


async def test_a_refused_file_is_set_aside_its_claims_held_and_later_files_flow(api, stack, tenant, claims_db):
    # A claim the scrubber holds (no billing address) stands for the claims of a file the
    # clearinghouse will refuse: it is put in such a file, older than anything else pending.
    body = encounter()
    del body["billing_provider"]["address"]
    stuck = (await api["claims"].post("/v1/encounters", json=body)).json()
    assert stuck["status"] == "held"
    refused_file = uuid.uuid4()
    async with claims_db.begin() as conn:
        await conn.execute(sa.text("UPDATE claims SET status = 'submitted' WHERE id = :c"), {"c": stuck["id"]})
        await conn.execute(sa.text(
            "INSERT INTO submissions (id, tenant_id, payer_id, claim_type, interchange_control_number, "
            "group_control_number, raw_x12, status, created_at) VALUES (:id, :t, '60054', 'professional', "
            "(SELECT coalesce(max(interchange_control_number), 0) + 1000000 FROM submissions), 1, "
            "convert_to('this is not an 837', 'UTF8'), 'pending', :at)"),
            {"id": refused_file, "t": tenant, "at": datetime.now(timezone.utc) - timedelta(hours=1)})
        await conn.execute(sa.text(
            "INSERT INTO claim_submissions (submission_id, claim_id, tenant_id, version, "
            "transaction_set_control_number, frequency_code) VALUES (:s, :c, :t, 1, 999999999, '1')"),
            {"s": refused_file, "c": stuck["id"], "t": tenant})

    later = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    await claim_in(api, later["id"], "accepted_by_payer", timeout=60)

    async with claims_db.connect() as conn:
        refused = (await conn.execute(sa.text("SELECT status, refusal_reason FROM submissions WHERE id = :s"),
                                      {"s": refused_file})).one()
    assert refused.status == "refused" and "HTTP 400" in refused.refusal_reason, refused
    held = await claim_in(api, stuck["id"], "held", timeout=30)
    entry = held["history"][-1]
    assert entry["kind"] == "refused_by_clearinghouse" and "HTTP 400" in entry["detail"]["reason"], entry


async def test_a_file_sent_but_not_marked_sent_is_sent_again_and_taken_once(api, stack, claims_db):
    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    await claim_in(api, claim["id"], "accepted_by_payer", timeout=60)
    async with claims_db.begin() as conn:
        submission = (await conn.execute(sa.text(
            "SELECT s.id, s.clearinghouse_batch_id FROM submissions s JOIN claim_submissions cs "
            "ON cs.submission_id = s.id WHERE cs.claim_id = :c"), {"c": claim["id"]})).one()
        # As if the worker died after the clearinghouse took the file, before it marked it sent.
        await conn.execute(sa.text("UPDATE submissions SET status = 'pending', clearinghouse_batch_id = NULL, "
                                   "sent_at = NULL WHERE id = :s"), {"s": submission.id})

    async def sent_again():
        async with claims_db.connect() as conn:
            row = (await conn.execute(sa.text("SELECT status, clearinghouse_batch_id FROM submissions WHERE id = :s"),
                                      {"s": submission.id})).one()
        assert row.status == "sent", row
        return row
    again = await eventually(sent_again, timeout=30)
    assert again.clearinghouse_batch_id == submission.clearinghouse_batch_id  # the same batch: taken once
    async with httpx.AsyncClient(base_url=stack.clearinghouse_url) as clearinghouse:
        batch = (await clearinghouse.get(f"/v1/batches/{submission.clearinghouse_batch_id}")).json()
    assert batch["batch_id"] == submission.clearinghouse_batch_id
    history = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()["history"]
    assert [h["kind"] for h in history].count("acknowledged_999") == 1
