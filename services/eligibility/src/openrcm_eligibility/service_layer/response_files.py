"""Uploaded 271 files, stored once whatever their size, in chunks (as remittance stores 835 files);
each check an upload answers keeps where its transaction set is in the file (domain.stored_271),
so `GET /v1/eligibility-checks/{id}?include_x12=true` shows that check's own 271. Retention
deletes the chunks of old files (adapters.retention); the checks keep their normalized answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_eligibility.adapters.tables import response_file_chunks, response_files
from openrcm_eligibility.domain.stored_271 import TransactionSpan, spans_of_answers, transaction_spans
from openrcm_shared.x12.eligibility_271 import EligibilityResponse, parse_271

# Characters per stored chunk: a check's 271 is read back from the few chunks its transaction set
# spans, never the whole file.
CHUNK_CHARS = 64 * 1024


async def store_response_file(conn: AsyncConnection, tenant_id: str, text: str, now: datetime) -> UUID:
    """Store the file's text in chunks, in the caller's transaction; its id."""
    file_id = uuid4()
    await conn.execute(response_files.insert().values(
        id=file_id, tenant_id=tenant_id, sha256=hashlib.sha256(text.encode()).hexdigest(), size_chars=len(text),
        received_at=now))
    await conn.execute(response_file_chunks.insert(), [
        dict(file_id=file_id, sequence=sequence, tenant_id=tenant_id, text=text[start:start + CHUNK_CHARS])
        for sequence, start in enumerate(range(0, len(text), CHUNK_CHARS))])
    return file_id


def answer_locations(text: str, answers: Sequence[EligibilityResponse]) -> list[dict]:
    """Where each answer's transaction set is in `text` (the file the answers were parsed from)."""
    spans = transaction_spans(text)

    def answers_in(span: TransactionSpan) -> int:
        return sum(1 for _ in parse_271(span.header + text[span.start:span.end] + span.trailer))

    located = spans_of_answers([answer.transaction_set_control_number for answer in answers], spans, answers_in)
    return [span.location() for span in located]


async def response_text(conn: AsyncConnection, file_id: UUID, location: dict) -> str | None:
    """A check's own 271 from the stored file; None once retention has deleted the file's chunks."""
    start, end = location["start"], location["end"]
    first, last = start // CHUNK_CHARS, (end - 1) // CHUNK_CHARS
    pieces = (await conn.execute(
        sa.select(response_file_chunks.c.text).where(response_file_chunks.c.file_id == file_id,
                                                     response_file_chunks.c.sequence.between(first, last))
        .order_by(response_file_chunks.c.sequence))).scalars().all()
    if len(pieces) != last - first + 1:
        return None
    offset = first * CHUNK_CHARS
    return location["header"] + "".join(pieces)[start - offset:end - offset] + location["trailer"]
