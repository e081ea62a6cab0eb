"""Staging the claims context's events: one source and aggregate type for all of them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.messaging.envelope import Envelope
from openrcm_shared.messaging.outbox import stage_events

SOURCE = "/openrcm/claims"
AGGREGATE = "claim"


async def stage_claim_events(conn: AsyncConnection, events: list[IntegrationEvent]) -> list[Envelope]:
    """Stage events in the caller's transaction (for work not caused by a consumed event)."""
    return await stage_events(conn, events, source=SOURCE, aggregate_type=AGGREGATE)
