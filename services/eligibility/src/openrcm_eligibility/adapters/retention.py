"""What the eligibility service prunes by age beside the shared tables (openrcm_shared.retention)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_shared.retention import RetentionRule

# The text of uploaded 271 files (their chunks: nearly all of their size), as remittance prunes
# stored 835 files: the answers were applied when the file was stored (the same transaction), so
# every file is finished; the checks keep their normalized answers, the file's row stays as its
# receipt (hash, size) with `content_pruned_at`, and a check's raw 271 is then null.
_PRUNE_FILE_CONTENTS = sa.text(
    "WITH finished AS ("
    " SELECT f.id FROM eligibility_response_files f"
    " WHERE f.content_pruned_at IS NULL AND f.received_at < :cutoff"
    " ORDER BY f.received_at LIMIT :limit FOR UPDATE OF f SKIP LOCKED),"
    " chunks AS (DELETE FROM eligibility_response_file_chunks c USING finished WHERE c.file_id = finished.id)"
    " UPDATE eligibility_response_files SET content_pruned_at = now() FROM finished"
    " WHERE eligibility_response_files.id = finished.id")


async def _prune_file_contents(conn: AsyncConnection, cutoff: datetime, limit: int) -> int:
    return (await conn.execute(_PRUNE_FILE_CONTENTS, {"cutoff": cutoff, "limit": limit})).rowcount


# Default 90 days, as remittance's 835 files (OPENRCM_RETENTION_ELIGIBILITY_RESPONSE_FILES_DAYS).
ELIGIBILITY_RESPONSE_FILES = RetentionRule("eligibility_response_files", 90, _prune_file_contents, batch_rows=10)
