"""Retention of stored 835 files (issue 14.8), on a real PostgreSQL: the bytes of finished files
go after their retention, their receipts stay; files not yet posted, failed ones and those a held
remittance may be posted again from keep their bytes."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from starlette.requests import Request

from openrcm_remittance.adapters.retention import REMITTANCE_FILES
from openrcm_remittance.adapters.tables import remittance_file_chunks, remittance_files, remittances
from openrcm_remittance.entrypoints.api import get_file_content
from openrcm_remittance.service_layer.files import body_of
from openrcm_shared.http.problems import Problem
from openrcm_shared.retention import RetentionPruner, RetentionSettings
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_remittance_retention", migrations_of="remittance",
                                                 pool_size=2)
TENANT = "retention-practice"


async def store(engine, status: str, age_days: int) -> uuid.UUID:
    file_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(remittance_files.insert().values(
            id=file_id, scope=TENANT, tenant_id=TENANT, source="upload", sha256=uuid.uuid4().hex * 2, size_bytes=6,
            received_at=datetime.now(timezone.utc) - timedelta(days=age_days), status=status))
        await conn.execute(remittance_file_chunks.insert(), [
            {"file_id": file_id, "sequence": 0, "data": b"ISA*00"}, {"file_id": file_id, "sequence": 1, "data": b"~"}])
    return file_id


async def hold_remittance_from(engine, file_id: uuid.UUID) -> None:
    async with engine.begin() as conn:
        await conn.execute(remittances.insert().values(
            id=uuid.uuid4(), tenant_id=TENANT, payer_id="60054", trace_number=uuid.uuid4().hex,
            payment_amount=Decimal("80.00"), payment_date=date.today(), source="x12",
            received_at=datetime.now(timezone.utc), status="held", file_id=file_id))


async def content_request(engine, file_id: uuid.UUID):
    app = SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(engine=engine)))
    return await get_file_content(file_id, Request({"type": "http", "app": app}), TENANT)


async def test_bytes_of_finished_files_go_after_their_retention_and_their_receipts_stay(engine):
    posted_long_ago, rejected_long_ago = await store(engine, "processed", 100), await store(engine, "rejected", 100)
    held = await store(engine, "processed", 100)
    await hold_remittance_from(engine, held)
    not_yet_posted, failed = await store(engine, "received", 100), await store(engine, "failed", 100)
    posted_lately = await store(engine, "processed", 10)

    pruner = RetentionPruner(engine, [REMITTANCE_FILES], service_name="remittance-retention-test",
                             settings=RetentionSettings(pause_seconds=0), days={"remittance_files": 90})
    assert await pruner.prune_if_leader() == {"remittance_files": 2}

    for pruned in (posted_long_ago, rejected_long_ago):
        assert await body_of(engine, pruned) == b""
        with pytest.raises(Problem) as gone:
            await content_request(engine, pruned)
        assert gone.value.status == 410
    for kept in (held, not_yet_posted, failed, posted_lately):
        assert await body_of(engine, kept) == b"ISA*00~"
    assert (await content_request(engine, posted_lately)).body == b"ISA*00~"
    async with engine.connect() as conn:  # every receipt stays
        receipts = (await conn.execute(sa.select(remittance_files.c.id, remittance_files.c.content_pruned_at).where(
            remittance_files.c.tenant_id == TENANT))).all()
    assert {row.id for row in receipts if row.content_pruned_at is not None} == {posted_long_ago, rejected_long_ago}
    assert len(receipts) == 6
