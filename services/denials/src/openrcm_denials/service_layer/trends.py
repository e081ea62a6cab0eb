"""Trend detection over the daily buckets (domain.trends has the rule): checked for each key a new denial
touches, and for open episodes by the background pass so an episode ends when the denials stop coming."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.tables import adjudication_buckets, denial_buckets, trend_episodes
from openrcm_denials.domain.trends import TrendReading, Window, baseline_window, reading, recent_window
from openrcm_denials.service_layer.case_moves import Emit
from openrcm_shared.contracts.denials import DenialTrendDetected


async def _denials(conn: AsyncConnection, tenant_id: str, payer_id: str, procedure_code: str, category: str,
                   window: Window) -> int:
    return (await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(denial_buckets.c.lines), 0)).where(
        denial_buckets.c.tenant_id == tenant_id, denial_buckets.c.payer_id == payer_id,
        denial_buckets.c.procedure_code == procedure_code, denial_buckets.c.category == category,
        denial_buckets.c.day.between(window.first_day, window.last_day)))).scalar_one()


async def _adjudicated(conn: AsyncConnection, tenant_id: str, payer_id: str, procedure_code: str,
                       window: Window) -> int:
    return (await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(adjudication_buckets.c.lines), 0)).where(
        adjudication_buckets.c.tenant_id == tenant_id, adjudication_buckets.c.payer_id == payer_id,
        adjudication_buckets.c.procedure_code == procedure_code,
        adjudication_buckets.c.day.between(window.first_day, window.last_day)))).scalar_one()


async def read_trend(conn: AsyncConnection, tenant_id: str, payer_id: str, procedure_code: str, category: str,
                     day: date) -> TrendReading:
    recent, baseline = recent_window(day), baseline_window(day)
    return reading(await _denials(conn, tenant_id, payer_id, procedure_code, category, recent),
                   await _adjudicated(conn, tenant_id, payer_id, procedure_code, recent),
                   await _denials(conn, tenant_id, payer_id, procedure_code, category, baseline),
                   await _adjudicated(conn, tenant_id, payer_id, procedure_code, baseline))


def _open_episode(tenant_id: str, payer_id: str, procedure_code: str, category: str):
    return (trend_episodes.c.tenant_id == tenant_id, trend_episodes.c.payer_id == payer_id,
            trend_episodes.c.procedure_code == procedure_code, trend_episodes.c.category == category,
            trend_episodes.c.ended_on.is_(None))


async def check_trend(conn: AsyncConnection, emit: Emit, tenant_id: str, payer_id: str, procedure_code: str,
                      category: str, *, day: date) -> None:
    """Start an episode (and announce it, once) when this key spikes; end the open one when it subsided."""
    now = await read_trend(conn, tenant_id, payer_id, procedure_code, category, day)
    open_id = (await conn.execute(sa.select(trend_episodes.c.id).where(
        *_open_episode(tenant_id, payer_id, procedure_code, category)).with_for_update())).scalar_one_or_none()
    if open_id is not None:
        if now.has_subsided:
            await conn.execute(trend_episodes.update().where(trend_episodes.c.id == open_id).values(ended_on=day))
        else:  # still going: the figures shown are the latest
            await conn.execute(trend_episodes.update().where(trend_episodes.c.id == open_id).values(
                denials_7d=now.denials_7d, adjudicated_7d=now.adjudicated_7d, rate_7d=now.rate_7d, ratio=now.ratio))
        return
    if not now.is_spike:
        return
    episode_id = uuid4()
    await conn.execute(trend_episodes.insert().values(
        id=episode_id, tenant_id=tenant_id, payer_id=payer_id, procedure_code=procedure_code, category=category,
        detected_on=day, denials_7d=now.denials_7d, adjudicated_7d=now.adjudicated_7d, rate_7d=now.rate_7d,
        baseline_rate=now.baseline_rate, ratio=now.ratio))
    await emit(DenialTrendDetected(
        tenant_id=tenant_id, episode_id=episode_id, payer_id=payer_id, procedure_code=procedure_code or None,
        category=category, detected_on=day, denials_7d=now.denials_7d, adjudicated_7d=now.adjudicated_7d,
        rate_7d=now.rate_7d, baseline_rate=now.baseline_rate, ratio=now.ratio))


async def end_subsided_episodes(conn: AsyncConnection, today: date) -> int:
    """Background pass (every practice, the system role): episodes whose key has gone quiet end."""
    rows = (await conn.execute(sa.select(trend_episodes.c.id, trend_episodes.c.tenant_id, trend_episodes.c.payer_id,
                                         trend_episodes.c.procedure_code, trend_episodes.c.category)
                               .where(trend_episodes.c.ended_on.is_(None)))).all()
    ended = 0
    for row in rows:
        if (await read_trend(conn, row.tenant_id, row.payer_id, row.procedure_code, row.category, today)).has_subsided:
            await conn.execute(trend_episodes.update().where(trend_episodes.c.id == row.id).values(ended_on=today))
            ended += 1
    return ended
