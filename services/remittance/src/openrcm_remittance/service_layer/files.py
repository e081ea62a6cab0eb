"""Raw 835 files: stored with their SHA-256 before anything else happens, read back as a stream.

A file is written a megabyte at a time as it arrives (upload body, multipart part or webhook),
hashed on the way, and committed before it is parsed, so a crash or a bug in posting never loses
what a payer sent; the stored bytes can be processed again after a fix. The same bytes a second
time (same practice, or the same clearinghouse) are kept only as a receipt pointing at the first
copy: they post nothing.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_remittance.adapters.tables import remittance_file_chunks, remittance_files
from openrcm_shared.audit import record_change

CHUNK_BYTES = 1 << 20
# Spooled copies stay in memory up to this size, then move to a temporary file.
SPOOL_MEMORY_BYTES = 8 << 20
CLEARINGHOUSE_SCOPE = "clearinghouse"


@dataclass(frozen=True)
class StoredFile:
    id: UUID
    sha256: str | None
    size_bytes: int
    status: str  # received | duplicate
    duplicate_of: UUID | None = None


async def _rechunk(stream: AsyncIterable[bytes]) -> AsyncIterable[bytes]:
    """Whatever sizes the body arrives in, yield CHUNK_BYTES pieces (the last one shorter)."""
    buffer = bytearray()
    async for piece in stream:
        buffer += piece
        while len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer[:CHUNK_BYTES])
            del buffer[:CHUNK_BYTES]
    if buffer:
        yield bytes(buffer)


async def received_whole(body: AsyncIterable[bytes]) -> IO[bytes]:
    """Every byte of a request body, spooled (in memory up to SPOOL_MEMORY_BYTES, then in a
    temporary file) and rewound, before any transaction is opened: a sender that trickles its
    upload holds a connection of the API, never a database transaction. The inbound guard bounds
    how much a body may hold, so the spool is bounded too."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    try:
        async for piece in body:
            spool.write(piece)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


async def chunks_of(spool: IO[bytes]) -> AsyncIterator[bytes]:
    """A spooled body read back a chunk at a time, for `store_file`."""
    while chunk := spool.read(CHUNK_BYTES):
        yield chunk


async def store_file(engine: AsyncEngine, body: AsyncIterable[bytes], *, scope: str, tenant_id: str | None,
                     source: str, filename: str | None = None, content_type: str | None = None,
                     webhook_id: str | None = None) -> StoredFile:
    """Store the bytes and their SHA-256 in one transaction; say whether they were seen before.
    A practice's upload is stored acting for it (the app engine); a webhook's file, which names
    no practice (tenant_id None), by the system role.
    `body` is read inside the transaction: pass bytes already received (`received_whole`), never
    a request still arriving."""
    file_id, digest, size = uuid4(), hashlib.sha256(), 0
    async with engine.begin() as conn:
        inserted = await conn.execute(pg_insert(remittance_files).values(
            id=file_id, scope=scope, tenant_id=tenant_id, source=source, filename=filename,
            content_type=content_type, webhook_id=webhook_id, received_at=datetime.now(timezone.utc),
            status="receiving").on_conflict_do_nothing(index_elements=["webhook_id"]).returning(remittance_files.c.id))
        if inserted.first() is None:  # the same webhook delivered again
            return await _webhook_duplicate(conn, webhook_id)
        sequence = 0
        async for chunk in _rechunk(body):
            digest.update(chunk)
            size += len(chunk)
            await conn.execute(remittance_file_chunks.insert().values(file_id=file_id, sequence=sequence, data=chunk,
                                                                      tenant_id=tenant_id))
            sequence += 1
        sha256 = digest.hexdigest()
        # Two copies arriving at once must not both count as first: serialise on the hash.
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(scope + sha256, 0))))
        first = (await conn.execute(sa.select(remittance_files.c.id).where(
            remittance_files.c.scope == scope, remittance_files.c.sha256 == sha256,
            remittance_files.c.duplicate_of.is_(None), remittance_files.c.status != "failed"))).scalar()
        status = "duplicate" if first is not None else "received"
        await conn.execute(remittance_files.update().where(remittance_files.c.id == file_id).values(
            sha256=sha256, size_bytes=size, status=status, duplicate_of=first))
        if first is not None:
            await conn.execute(remittance_file_chunks.delete().where(remittance_file_chunks.c.file_id == file_id))
        # An upload's audit entry (a no-op for webhook deliveries): the file is what the request created.
        await record_change(conn, resource_type="remittance_file", resource_id=file_id)
    return StoredFile(file_id, sha256, size, status, first)


async def _webhook_duplicate(conn: AsyncConnection, webhook_id: str | None) -> StoredFile:
    row = (await conn.execute(sa.select(remittance_files).where(remittance_files.c.webhook_id == webhook_id))).one()
    return StoredFile(row.id, row.sha256, row.size_bytes, "duplicate", row.duplicate_of or row.id)


async def spool_file(engine: AsyncEngine, file_id: UUID) -> IO[bytes]:
    """The stored bytes in a seekable file object (memory up to a bound, then disk), read one
    chunk per query so a large ERA never sits in memory whole."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    async with engine.connect() as conn:
        sequence = 0
        while True:
            chunk = (await conn.execute(sa.select(remittance_file_chunks.c.data).where(
                remittance_file_chunks.c.file_id == file_id,
                remittance_file_chunks.c.sequence == sequence))).scalar()
            if chunk is None:
                break
            spool.write(chunk)
            sequence += 1
    spool.seek(0)
    return spool


async def content_pruned_at(engine: AsyncEngine, file_id: UUID) -> datetime | None:
    """When retention deleted the file's bytes (adapters.retention), or None while they are kept."""
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(remittance_files.c.content_pruned_at)
                                   .where(remittance_files.c.id == file_id))).scalar()


async def body_of(engine: AsyncEngine, file_id: UUID) -> bytes:
    """The whole file (for the API's download of a stored file)."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(remittance_file_chunks.c.data).where(
            remittance_file_chunks.c.file_id == file_id).order_by(remittance_file_chunks.c.sequence))
        return b"".join(row.data for row in rows)
