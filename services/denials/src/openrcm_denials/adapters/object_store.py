"""Where attachment and letter bytes live: a port (`ObjectStore`) and its local adapter, PostgreSQL.

An S3-style store would implement the same three calls; the rows that name objects keep only the
key and the SHA-256, so moving the bytes elsewhere changes no other table.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.appeal_tables import stored_objects


class ObjectStore(Protocol):
    async def put(self, conn: AsyncConnection, tenant_id: str, key: str, content: bytes) -> None: ...

    async def get(self, conn: AsyncConnection, tenant_id: str, key: str) -> bytes | None: ...


class PostgresObjectStore:
    """Bytes in the service's own database (`stored_objects`), written in the caller's transaction:
    an attachment row never names bytes that were not stored, and the practice policy covers them."""

    async def put(self, conn: AsyncConnection, tenant_id: str, key: str, content: bytes) -> None:
        await conn.execute(stored_objects.insert().values(key=key, tenant_id=tenant_id, content=content,
                                                          created_at=datetime.now(timezone.utc)))

    async def get(self, conn: AsyncConnection, tenant_id: str, key: str) -> bytes | None:
        return (await conn.execute(sa.select(stored_objects.c.content).where(
            stored_objects.c.tenant_id == tenant_id, stored_objects.c.key == key))).scalar_one_or_none()


OBJECT_STORE: ObjectStore = PostgresObjectStore()
