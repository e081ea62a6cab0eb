"""A stored 835 whose posting stopped part way is posted again at once, never twice at a time.

The fault checker found an ERA (one batch, ~40 claims) stored but never posted within its drain:
its posting stopped (remittance killed, or PostgreSQL restarted under it), the file stayed
`processing`, and a ten-minute lease kept every worker round and webhook retry away from it. The
poster now holds the file's advisory lock for the posting, which ends with its session; these
tests hold that lock, kill its session and fail a posting on a real PostgreSQL (a scratch
remittance database of its own).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from bench.x12_835 import billed_lines, patient_control_number, synthetic_835
from openrcm_remittance.adapters.tables import expected_claims, remittance_files
from openrcm_remittance.service_layer import era_intake
from openrcm_remittance.service_layer.files import store_file
from openrcm_shared.leadership import object_lock, release_lock, try_lock
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

CLAIMS = 30

database_url, engine = scratch_database_fixtures("openrcm_era_takeover", migrations_of="remittance", pool_size=4)


async def stored_era(engine) -> tuple[str, uuid.UUID]:
    """A practice's expected claims and the ERA paying them, stored (as a webhook stores it) but not posted."""
    tenant = f"takeover-{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(expected_claims.insert(), [
            dict(claim_id=uuid.uuid4(), tenant_id=tenant, patient_control_number=patient_control_number(number),
                 patient_id=f"P{number}", payer_id="60054", lines=billed_lines(number, 2),
                 total_charge=sum(Decimal(line["charge_amount"]) for line in billed_lines(number, 2)),
                 submitted_at=datetime.now(timezone.utc))
            for number in range(CLAIMS)])
    data = b"".join(synthetic_835(CLAIMS, lines_per_claim=2))

    async def body():
        yield data

    stored = await store_file(engine, body(), scope=tenant, tenant_id=tenant, source="upload")
    return tenant, stored.id


async def file_status(engine, file_id: uuid.UUID) -> str:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(remittance_files.c.status)
                                   .where(remittance_files.c.id == file_id))).scalar_one()


async def payments_of(engine, tenant: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT count(*) FROM claim_payments WHERE tenant_id = :t"),
                                   {"t": tenant})).scalar_one()


async def test_a_file_whose_poster_was_killed_is_posted_at_once(engine):
    tenant, file_id = await stored_era(engine)
    # What a poster killed a moment ago leaves: the file marked `processing` just now, its lock gone
    # with its session (a connection that took the lock and was terminated).
    async with engine.connect() as killed:
        assert await try_lock(killed, object_lock(era_intake.FILE_LOCK_KIND, file_id))
        assert await era_intake.claim_file(engine, file_id)
        pid = (await killed.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        async with engine.connect() as admin:
            await admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await killed.invalidate()
    assert await file_status(engine, file_id) == "processing"

    assert file_id in await era_intake.pending_file_ids(engine)  # the next worker round finds it
    outcome = await era_intake.process_file(engine, file_id)
    assert outcome is not None and outcome.status == "processed"
    assert await payments_of(engine, tenant) == CLAIMS


async def test_a_file_being_posted_is_left_to_its_poster(engine):
    tenant, file_id = await stored_era(engine)
    lock = object_lock(era_intake.FILE_LOCK_KIND, file_id)
    async with engine.connect() as poster:
        assert await try_lock(poster, lock)  # another process is posting it
        assert await era_intake.process_file(engine, file_id) is None
        assert await payments_of(engine, tenant) == 0
        await release_lock(poster, lock)
    outcome = await era_intake.process_file(engine, file_id)
    assert outcome is not None and outcome.status == "processed"
    assert await era_intake.process_file(engine, file_id) is None  # done: nothing posts twice
    assert await payments_of(engine, tenant) == CLAIMS


async def test_a_posting_stopped_by_an_outage_is_taken_again_by_the_retry(engine, monkeypatch):
    tenant, file_id = await stored_era(engine)
    real = era_intake._process_claimed_file

    async def database_went_away(engine_, file_id_):
        raise ConnectionResetError("the database went away mid-posting")

    monkeypatch.setattr(era_intake, "_process_claimed_file", database_went_away)
    with pytest.raises(ConnectionResetError):
        await era_intake.process_file(engine, file_id)
    assert await file_status(engine, file_id) == "processing"

    monkeypatch.setattr(era_intake, "_process_claimed_file", real)
    # The webhook's retry (or the worker's next round, seconds later) posts it; the lease kept it
    # away for ten minutes.
    outcome = await era_intake.process_file(engine, file_id)
    assert outcome is not None and outcome.status == "processed"
    assert await payments_of(engine, tenant) == CLAIMS
