"""Moving a denial case: one function for every route and consumer, so each move is checked against the
state machine and announced with `DenialCaseStatusChanged` in the same transaction."""

from __future__ import annotations

from decimal import Decimal
from typing import Awaitable, Callable
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.tables import denial_cases
from openrcm_denials.domain.case_status import RESOLVED, CaseStatus, check_transition
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.contracts.denials import DenialCaseStatusChanged
from openrcm_shared.messaging.outbox import stage_events

SOURCE = "/openrcm/denials"
AGGREGATE_TYPE = "denial_case"

Emit = Callable[[IntegrationEvent], Awaitable[object]]


class CaseNotFound(LookupError):
    pass


def outbox_emitter(conn: AsyncConnection) -> Emit:
    """For request handlers: stage the event in the request's transaction (consumers pass `ctx.emit`)."""
    async def emit(event: IntegrationEvent) -> object:
        return await stage_events(conn, [event], source=SOURCE, aggregate_type=AGGREGATE_TYPE)
    return emit


async def move_case(conn: AsyncConnection, emit: Emit, *, tenant_id: str, case_id: UUID, target: CaseStatus,
                    changed_by: str | None, reason: str | None = None,
                    amount_recovered: Decimal | None = None) -> CaseStatus:
    """Locks the case, checks the move (IllegalCaseTransition when the state machine refuses it: a 409),
    updates it and stages the event; answers the status it left. Moving to the state it is in is refused
    too, so a repeated request cannot announce a change twice."""
    row = (await conn.execute(
        sa.select(denial_cases.c.status, denial_cases.c.claim_id)
        .where(denial_cases.c.tenant_id == tenant_id, denial_cases.c.id == case_id)
        .with_for_update())).first()
    if row is None:
        raise CaseNotFound(case_id)
    current = CaseStatus(row.status)
    check_transition(current, target)
    # When it moved (SLA timers run from it, and the SLA breach announced for the old status no longer
    # applies), when it was resolved and with how much recovered (the summary's days to resolve and
    # overturn dollars; a reopened case is unresolved again).
    resolved = target in RESOLVED
    await conn.execute(denial_cases.update()
                       .where(denial_cases.c.tenant_id == tenant_id, denial_cases.c.id == case_id)
                       .values(status=target.value, status_changed_at=sa.func.now(), sla_breached_status=None,
                               resolved_at=sa.func.now() if resolved else None,
                               amount_recovered=amount_recovered if resolved else None))
    await emit(DenialCaseStatusChanged(tenant_id=tenant_id, case_id=case_id, claim_id=row.claim_id,
                                       from_status=current.value, to_status=target.value, changed_by=changed_by,
                                       reason=reason, amount_recovered=amount_recovered))
    return current

