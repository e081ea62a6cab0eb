"""Moving claims along their state machine: check, update, record on the timeline, announce."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters import claim_writes
from openrcm_claims.service_layer.claim_events import stage_claim_events
from openrcm_claims.domain.lifecycle import ClaimStatus, IllegalTransition, check_transition
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.messaging.envelope import Envelope

log = logging.getLogger(__name__)

Emit = Callable[..., Awaitable[list[Envelope]]]


@dataclass(frozen=True)
class ClaimMove:
    """One transition to apply: the claim's status when it was read (under its row lock), where
    it goes, the timeline entry (`kind`, `detail`), the event announcing it, and further columns
    set with the status."""

    claim_id: UUID
    tenant_id: str
    from_status: ClaimStatus
    target: ClaimStatus
    kind: str
    detail: dict
    event: IntegrationEvent | None
    values: Mapping[str, Any] = field(default_factory=dict)


async def move_claim(conn: AsyncConnection, claim, target: ClaimStatus, *, kind: str, detail: dict,
                     event: IntegrationEvent | None, emit: Emit | None = None, **values) -> bool:
    """Apply one transition in the caller's transaction; an illegal one is refused, logged and
    kept on the timeline (never applied). Returns whether it was applied.

    `claim` needs id, tenant_id and status. `emit` stages the event; an event handler passes its
    context's `emit`, so the new event names the consumed one as its cause."""
    move = ClaimMove(claim.id, claim.tenant_id, ClaimStatus(claim.status), target, kind, detail, event, values)
    return bool(await move_claims(conn, [move], emit=emit))


async def move_claims(conn: AsyncConnection, moves: Sequence[ClaimMove], *,
                      emit: Emit | None = None) -> list[ClaimMove]:
    """Apply many transitions in the caller's transaction, in order, with one write per table (an
    acknowledgement moves every claim of a file): statuses, the events in one outbox write, the
    timeline in one insert. Each is checked like `move_claim`; illegal ones are refused, logged and
    kept on the timeline. Returns the moves applied. The caller holds the claims' row locks, taken
    in id order (service_layer.claim_locks), so the UPDATE waits for none."""
    now = datetime.now(timezone.utc)
    applied, history = [], []
    for move in moves:
        try:
            check_transition(move.from_status, move.target)
        except IllegalTransition:
            log.warning("illegal claim transition refused", extra={"from_status": move.from_status,
                                                                   "to_status": move.target})
            history.append(_history_row(move, now, kind="transition_refused", to_status=move.target,
                                        detail={"attempted": move.kind, **move.detail}))
            continue
        applied.append(move)
    await _update_claims(conn, applied, now)
    envelopes = iter(await _stage([m.event for m in applied if m.event is not None], conn, emit))
    for move in applied:
        event_id = next(envelopes).id if move.event is not None else None
        history.append(_history_row(move, now, kind=move.kind, to_status=move.target, detail=move.detail,
                                    event_id=event_id))
    await claim_writes.insert_history(conn, history)
    return applied


async def _stage(events: list[IntegrationEvent], conn: AsyncConnection, emit: Emit | None) -> list[Envelope]:
    if not events:
        return []
    return await emit(*events) if emit else await stage_claim_events(conn, events)


async def _update_claims(conn: AsyncConnection, moves: list[ClaimMove], now: datetime) -> None:
    """One UPDATE per run of moves that set the same columns, in order, so a claim moved twice in
    one batch ends in its last status."""
    run: list[dict] = []
    for move in moves:
        row = {"claim_id": move.claim_id, "status": move.target, "updated_at": now, **move.values}
        if run and run[0].keys() != row.keys():
            await claim_writes.update_claims(conn, run)
            run = []
        run.append(row)
    if run:
        await claim_writes.update_claims(conn, run)


def _history_row(move: ClaimMove, now: datetime, *, kind: str, to_status: ClaimStatus, detail: dict,
                 event_id: UUID | None = None) -> dict:
    return {"claim_id": move.claim_id, "tenant_id": move.tenant_id, "occurred_at": now, "kind": kind,
            "from_status": move.from_status, "to_status": to_status, "event_id": event_id, "detail": detail}


async def note_on_timeline(ctx, claim_id, kind: str, detail: dict, *, event_id=None) -> None:
    """A timeline entry caused by a consumed event (`ctx`, a HandlerContext) that moves no status:
    it names the event it records (`event_id`, one this handler emitted) or else the consumed one."""
    await claim_writes.insert_history(ctx.conn, [{
        "claim_id": claim_id, "tenant_id": ctx.tenant_id, "occurred_at": datetime.now(timezone.utc), "kind": kind,
        "from_status": None, "to_status": None, "event_id": event_id or ctx.envelope.id, "detail": detail}])
