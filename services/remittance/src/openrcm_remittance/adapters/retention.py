"""What the remittance service prunes by age beside the shared tables (openrcm_shared.retention)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_shared.retention import RetentionRule

# The bytes of a stored 835 file (its chunks: nearly all of its size) once the file is finished
# (posted, or rejected as unreadable) and no remittance posted from it is held (a held ERA is
# posted again from its file). The file's row stays as its receipt (hash, size, outcome), with
# `content_pruned_at`; its content answers 410. Files still received or processing, and failed
# ones (an operator's to look at), keep their bytes. Each file may be many megabytes: a batch is
# a few files.
_PRUNE_FILE_CONTENTS = sa.text(
    "WITH finished AS ("
    " SELECT f.id FROM remittance_files f"
    " WHERE f.content_pruned_at IS NULL AND f.status IN ('processed', 'rejected') AND f.received_at < :cutoff"
    " AND NOT EXISTS (SELECT 1 FROM remittances r WHERE r.file_id = f.id AND r.status = 'held')"
    " ORDER BY f.received_at LIMIT :limit FOR UPDATE OF f SKIP LOCKED),"
    " chunks AS (DELETE FROM remittance_file_chunks c USING finished WHERE c.file_id = finished.id)"
    " UPDATE remittance_files SET content_pruned_at = now() FROM finished WHERE remittance_files.id = finished.id")


async def _prune_file_contents(conn: AsyncConnection, cutoff: datetime, limit: int) -> int:
    return (await conn.execute(_PRUNE_FILE_CONTENTS, {"cutoff": cutoff, "limit": limit})).rowcount


# Default 90 days (OPENRCM_RETENTION_REMITTANCE_FILES_DAYS).
REMITTANCE_FILES = RetentionRule("remittance_files", 90, _prune_file_contents, batch_rows=10)
