"""Verifying a service database's audit chains: every practice's entries recomputed from its anchor."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_shared.audit.chain import START, ChainPoint, ChainReport, ChainVerifier
from openrcm_shared.audit.chainer import ENTRY_FIELDS, entry_of
from openrcm_shared.audit.tables import audit_chain_heads, audit_log

_SEALED = (sa.select(*[audit_log.c[name] for name in ENTRY_FIELDS])
           .where(audit_log.c.tenant_id == sa.bindparam("tenant_id"), audit_log.c.chain_seq.is_not(None))
           .order_by(audit_log.c.chain_seq))


async def verify_database(engine: AsyncEngine) -> list[ChainReport]:
    """One report per practice with entries or a chain head in this database, in practice order.

    Entries are streamed in position order (memory stays flat however long the chain), in one
    REPEATABLE READ snapshot, so entries sealed while it runs do not look like a broken end."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            heads = {row.tenant_id: row for row in (await conn.execute(sa.select(audit_chain_heads))).all()}
            unchained = dict((await conn.execute(
                sa.select(audit_log.c.tenant_id, sa.func.count()).where(audit_log.c.chain_seq.is_(None))
                .group_by(audit_log.c.tenant_id))).all())
            sealed_practices = (await conn.execute(
                sa.select(audit_log.c.tenant_id).where(audit_log.c.chain_seq.is_not(None)).distinct())).scalars().all()
            reports = []
            for tenant_id in sorted(set(heads) | set(unchained) | set(sealed_practices)):
                head = heads.get(tenant_id)
                anchor = ChainPoint(head.anchor_seq, head.anchor_hash) if head is not None else START
                # Without a head row, a practice with sealed entries has lost it: nothing can be
                # checked against the chain's end then, but every link still is.
                tip = ChainPoint(head.last_seq, head.last_hash) if head is not None else None
                reports.append(await _verify_practice(conn, tenant_id, anchor, tip, unchained.get(tenant_id, 0)))
    return reports


async def _verify_practice(conn: AsyncConnection, tenant_id: str, anchor: ChainPoint, head: ChainPoint | None,
                           unchained: int) -> ChainReport:
    verifier = ChainVerifier(tenant_id, anchor=anchor, head=head, unchained=unchained)
    result = await conn.stream(_SEALED.execution_options(yield_per=5000), {"tenant_id": tenant_id})
    async for row in result:
        if not verifier.check(entry_of(row)):
            break
    await result.close()
    return verifier.report()
