"""Moving a claim along its state machine: check, update, record on the timeline, announce."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import claim_history, claims
from openrcm_claims.service_layer.claim_events import stage_claim_events
from openrcm_claims.domain.lifecycle import ClaimStatus, IllegalTransition, check_transition
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.messaging.envelope import Envelope

log = logging.getLogger(__name__)


async def move_claim(conn: AsyncConnection, claim, target: ClaimStatus, *, kind: str, detail: dict,
                     event: IntegrationEvent | None,
                     emit: Callable[[IntegrationEvent], Awaitable[list[Envelope]]] | None = None, **values) -> bool:
    """Apply one transition in the caller's transaction; an illegal one is refused, logged and
    kept on the timeline (never applied). Returns whether it was applied.

    `claim` needs id, tenant_id and status. `emit` stages the event; an event handler passes its
    context's `emit`, so the new event names the consumed one as its cause."""
    current = ClaimStatus(claim.status)
    now = datetime.now(timezone.utc)
    try:
        check_transition(current, target)
    except IllegalTransition:
        log.warning("illegal claim transition refused", extra={"from_status": current, "to_status": target})
        await conn.execute(claim_history.insert().values(
            claim_id=claim.id, tenant_id=claim.tenant_id, occurred_at=now, kind="transition_refused",
            from_status=current, to_status=target, event_id=None, detail={"attempted": kind, **detail}))
        return False
    await conn.execute(claims.update().where(claims.c.id == claim.id)
                       .values(status=target, updated_at=now, **values))
    event_id = None
    if event is not None:
        [envelope] = await emit(event) if emit else await stage_claim_events(conn, [event])
        event_id = envelope.id
    await conn.execute(claim_history.insert().values(
        claim_id=claim.id, tenant_id=claim.tenant_id, occurred_at=now, kind=kind, from_status=current,
        to_status=target, event_id=event_id, detail=detail))
    return True


async def note_on_timeline(ctx, claim_id, kind: str, detail: dict, *, event_id=None) -> None:
    """A timeline entry caused by a consumed event (`ctx`, a HandlerContext) that moves no status:
    it names the event it records (`event_id`, one this handler emitted) or else the consumed one."""
    await ctx.conn.execute(claim_history.insert().values(
        claim_id=claim_id, tenant_id=ctx.tenant_id, occurred_at=datetime.now(timezone.utc), kind=kind,
        from_status=None, to_status=None, event_id=event_id or ctx.envelope.id, detail=detail))
