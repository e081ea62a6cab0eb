"""Uploaded 271 files on a real PostgreSQL: stored once in chunks, each answer's own 271 read back
from the chunks its transaction set spans; retention deletes the text of old files only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from openrcm_eligibility.adapters.retention import ELIGIBILITY_RESPONSE_FILES
from openrcm_eligibility.adapters.tables import response_file_chunks, response_files
from openrcm_eligibility.service_layer.response_files import (
    CHUNK_CHARS, answer_locations, response_text, store_response_file,
)
from openrcm_shared.retention import RetentionPruner, RetentionSettings
from openrcm_shared.x12.eligibility_271 import parse_271
from services.eligibility.tests.x12_271 import interchange, subscriber, transaction
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_eligibility_files", migrations_of="eligibility",
                                                 pool_size=2)


def large_file(members: int) -> str:
    """One transaction set per member, in one interchange: several chunks long."""
    return interchange(5, *[transaction(f"{n:04d}", subscriber(f"M{n:05d}")) for n in range(1, members + 1)])


async def test_each_answer_reads_its_own_271_back_across_chunk_boundaries(engine):
    text = large_file(1200)
    assert len(text) > 3 * CHUNK_CHARS
    answers = list(parse_271(text))
    locations = answer_locations(text, answers)
    async with engine.begin() as conn:
        file_id = await store_response_file(conn, "T1", text, datetime.now(timezone.utc))
    async with engine.connect() as conn:
        chunks = (await conn.execute(sa.select(sa.func.count()).where(
            response_file_chunks.c.file_id == file_id))).scalar()
        assert chunks == -(-len(text) // CHUNK_CHARS)
        straddling = next(index for index, location in enumerate(locations)
                          if location["start"] // CHUNK_CHARS != (location["end"] - 1) // CHUNK_CHARS)
        for index in (0, straddling, len(answers) - 1):
            own = await response_text(conn, file_id, locations[index])
            assert [answer.member_id for answer in parse_271(own)] == [answers[index].member_id]


async def test_retention_deletes_the_text_of_old_files_only(engine):
    text = large_file(3)
    answers = list(parse_271(text))
    [location, *_] = answer_locations(text, answers)
    now = datetime.now(timezone.utc)
    async with engine.begin() as conn:
        old = await store_response_file(conn, "T1", text, now - timedelta(days=91))
        recent = await store_response_file(conn, "T1", text, now - timedelta(days=89))

    pruner = RetentionPruner(engine, [ELIGIBILITY_RESPONSE_FILES], service_name="eligibility-retention-test",
                             settings=RetentionSettings(batch_rows=1, pause_seconds=0),
                             days={"eligibility_response_files": 90})
    assert await pruner.prune_if_leader() == {"eligibility_response_files": 1}

    async with engine.connect() as conn:
        assert await response_text(conn, old, location) is None
        assert [a.member_id for a in parse_271(await response_text(conn, recent, location))] == ["M00001"]
        pruned = dict((await conn.execute(sa.select(response_files.c.id, response_files.c.content_pruned_at).where(
            response_files.c.id.in_([old, recent])))).all())
    assert pruned[old] is not None and pruned[recent] is None
