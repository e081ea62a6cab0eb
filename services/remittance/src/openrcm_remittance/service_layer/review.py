"""The review queue of held ERAs: a person ties an unmatched claim or line to what was billed.

A manual match is never applied by itself to money: it is recorded (who, when, why) on the item,
and the ERA is posted again from its stored file with the match, all or nothing as always.
"""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_remittance.adapters.tables import expected_claims, unmatched_items
from openrcm_shared.audit import record_change
from openrcm_shared.http.problems import Problem, field_error


async def match_item(engine: AsyncEngine, tenant_id: str, item_id: UUID, decision, *,
                     matched_by: str) -> tuple[sa.Row, int]:
    """Record the decision of `matched_by` (the authorized caller's subject); returns the item and how many open items its ERA still has."""
    async with engine.begin() as conn:
        item = (await conn.execute(sa.select(unmatched_items).where(
            unmatched_items.c.id == item_id, unmatched_items.c.tenant_id == tenant_id).with_for_update())).first()
        if item is None:
            raise Problem(404, "Unmatched item not found", type_="not-found")
        if item.status != "open":
            raise Problem(409, "Already matched", f"Matched by {item.matched_by} at {item.matched_at:%Y-%m-%d %H:%M}Z.",
                          type_="already-matched")
        claim = (await conn.execute(sa.select(expected_claims).where(
            expected_claims.c.claim_id == decision.claim_id, expected_claims.c.tenant_id == tenant_id))).first()
        if claim is None:
            raise Problem(422, "Unknown claim", type_="validation-error",
                          errors=[field_error("/claim_id", "no claim of this practice was submitted with this id")])
        _check_line(item, claim, decision.line_number)
        matched = (await conn.execute(unmatched_items.update().where(unmatched_items.c.id == item_id).values(
            status="matched", matched_claim_id=decision.claim_id, matched_line_number=decision.line_number,
            matched_by=matched_by, matched_at=datetime.now(timezone.utc), match_reason=decision.reason,
        ).returning(*unmatched_items.c))).one()
        await record_change(conn, resource_id=item_id)  # the decision and its audit entry commit together
        open_left = (await conn.execute(sa.select(sa.func.count()).where(
            unmatched_items.c.remittance_id == item.remittance_id, unmatched_items.c.status == "open"))).scalar_one()
    return matched, open_left


def _check_line(item, claim, line_number: int | None) -> None:
    if item.kind == "line" and line_number is None:
        raise Problem(422, "Line needed", type_="validation-error",
                      errors=[field_error("/line_number", "an unmatched line is matched to one billed line")])
    if item.kind != "line" and line_number is not None:
        raise Problem(422, "No line for a claim match", type_="validation-error",
                      errors=[field_error("/line_number", "a claim is matched as a whole; its lines follow")])
    if line_number is not None and line_number not in {line["line_number"] for line in claim.lines}:
        raise Problem(422, "Unknown line", type_="validation-error",
                      errors=[field_error("/line_number", f"claim has lines 1-{len(claim.lines)}")])
