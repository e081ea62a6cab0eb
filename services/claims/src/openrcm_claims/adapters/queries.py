"""Reads for the claims API."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import claim_history, claim_lines, claims, scrub_results
from openrcm_claims.entrypoints.schemas import (
    ClaimLineOut, ClaimOut, ClaimSummaryOut, HistoryEntryOut, RelatedClaimOut,
)
from openrcm_shared.http.pagination import fetch_page


async def load_claim(conn: AsyncConnection, tenant_id: str, claim_id: UUID) -> ClaimOut | None:
    """The claim as the API shows it, read in five statements: `conn` must see one snapshot
    (openrcm_shared.db.snapshot), or be the transaction that changed the claim under its row lock,
    so the status and the timeline agree."""
    row = (await conn.execute(sa.select(claims).where(claims.c.id == claim_id, claims.c.tenant_id == tenant_id))).first()
    if row is None:
        return None
    lines = (await conn.execute(
        sa.select(claim_lines).where(claim_lines.c.claim_id == claim_id).order_by(claim_lines.c.line_number))).all()
    history = (await conn.execute(
        sa.select(claim_history).where(claim_history.c.claim_id == claim_id).order_by(claim_history.c.id))).all()
    scrubbed = (await conn.execute(
        sa.select(scrub_results.c.hits).where(scrub_results.c.claim_id == claim_id,
                                              scrub_results.c.version == row.version))).scalar()
    related = (await conn.execute(
        sa.select(*[claims.c[name] for name in RelatedClaimOut.model_fields])
        .where(claims.c.tenant_id == tenant_id, claims.c.encounter_id == row.encounter_id, claims.c.id != claim_id)
        .order_by(claims.c.payer_responsibility, claims.c.split_part))).all()
    return ClaimOut(
        **{name: getattr(row, name) for name in ClaimOut.model_fields
           if name not in ("lines", "history", "scrub_hits", "related_claims")},
        scrub_hits=scrubbed or [],
        related_claims=[RelatedClaimOut(**r._mapping) for r in related],
        lines=[ClaimLineOut(**{name: getattr(line, name) for name in ClaimLineOut.model_fields}) for line in lines],
        history=[HistoryEntryOut(**{name: getattr(h, name) for name in HistoryEntryOut.model_fields}) for h in history],
    )


async def list_claims(conn: AsyncConnection, tenant_id: str, *, status: str | None, cursor: str | None,
                      limit: int, follow_up: bool = False) -> tuple[list[ClaimSummaryOut], str | None]:
    """Newest first; the cursor is the last row's (created_at, id)."""
    query = sa.select(*[claims.c[name] for name in ClaimSummaryOut.model_fields]).where(claims.c.tenant_id == tenant_id)
    if status:
        query = query.where(claims.c.status == status)
    if follow_up:
        query = query.where(claims.c.follow_up_flagged_at.is_not(None), claims.c.status == "submitted")
    rows, next_cursor = await fetch_page(conn, query, order_by=[claims.c.created_at, claims.c.id], cursor=cursor,
                                         limit=limit)
    return [ClaimSummaryOut(**row._mapping) for row in rows], next_cursor
