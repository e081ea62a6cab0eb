"""Imported CMS code-set files in the claims database: stored a megabyte at a time with their
SHA-256 (the same bytes twice are one file), listed, read back into a spool, withdrawn.

CMS reference data shared by every practice: these rows carry no tenant_id."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import IO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_claims.adapters.tables import code_set_file_chunks, code_set_files
from openrcm_claims.domain.scrubber.codesets.cms_files import ImportedFile

CHUNK_BYTES = 1 << 20
# A file read back stays in memory up to this size, then moves to a temporary file.
SPOOL_MEMORY_BYTES = 8 << 20
_COLUMNS = [column for column in code_set_files.c]


async def find_by_sha256(conn: AsyncConnection, sha256: str):
    """The file with these bytes (not withdrawn), or None."""
    return (await conn.execute(sa.select(*_COLUMNS).where(
        code_set_files.c.sha256 == sha256, code_set_files.c.withdrawn_at.is_(None)))).first()


async def insert_file(conn: AsyncConnection, content: IO[bytes], *, kind: str, effective_date: date, file_name: str,
                      sha256: str, size_bytes: int, counts: Mapping[str, int], imported_by: str):
    """(the stored row, True) — or (the row already holding these bytes, False). The caller's
    transaction commits the row and its chunks together."""
    # Two imports of the same bytes at once must not both store it: serialise on the hash.
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended("code_set:" + sha256, 0))))
    existing = await find_by_sha256(conn, sha256)
    if existing is not None:
        return existing, False
    row = (await conn.execute(code_set_files.insert().values(
        kind=kind, effective_date=effective_date, file_name=file_name, sha256=sha256, size_bytes=size_bytes,
        counts=dict(counts), imported_by=imported_by, imported_at=datetime.now(timezone.utc)).returning(*_COLUMNS))).one()
    content.seek(0)
    sequence = 0
    while chunk := content.read(CHUNK_BYTES):
        await conn.execute(code_set_file_chunks.insert().values(file_id=row.id, sequence=sequence, data=chunk))
        sequence += 1
    return row, True


async def listed_files(conn: AsyncConnection) -> list:
    """Every file imported and not withdrawn, by kind, newest effective date first, then newest import."""
    return list((await conn.execute(sa.select(*_COLUMNS).where(code_set_files.c.withdrawn_at.is_(None)).order_by(
        code_set_files.c.kind, code_set_files.c.effective_date.desc(), code_set_files.c.id.desc()))).all())


async def imported_files(conn: AsyncConnection) -> list[ImportedFile]:
    """What the in-force rules need of every file not withdrawn (a few small columns: every claims
    process reads this every few seconds)."""
    rows = await conn.execute(sa.select(code_set_files.c.id, code_set_files.c.kind, code_set_files.c.effective_date,
                                        code_set_files.c.file_name).where(code_set_files.c.withdrawn_at.is_(None)))
    return [ImportedFile(row.id, row.kind, row.effective_date, row.file_name) for row in rows]


async def spool_content(engine: AsyncEngine, file_id: int) -> IO[bytes]:
    """The stored bytes in a seekable file object (memory up to a bound, then disk), read one
    chunk per query so a large file never sits in memory whole."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    async with engine.connect() as conn:
        sequence = 0
        while (chunk := (await conn.execute(sa.select(code_set_file_chunks.c.data).where(
                code_set_file_chunks.c.file_id == file_id,
                code_set_file_chunks.c.sequence == sequence))).scalar()) is not None:
            spool.write(chunk)
            sequence += 1
    spool.seek(0)
    return spool


async def withdraw(conn: AsyncConnection, file_id: int, actor: str):
    """Mark the file withdrawn (its bytes are dropped; the row stays as the record of the import);
    the row, or None when there is no such file. Withdrawing twice changes nothing."""
    row = (await conn.execute(sa.select(*_COLUMNS).where(code_set_files.c.id == file_id).with_for_update())).first()
    if row is None or row.withdrawn_at is not None:
        return row
    await conn.execute(code_set_file_chunks.delete().where(code_set_file_chunks.c.file_id == file_id))
    return (await conn.execute(code_set_files.update().where(code_set_files.c.id == file_id).values(
        withdrawn_by=actor, withdrawn_at=datetime.now(timezone.utc)).returning(*_COLUMNS))).one()
