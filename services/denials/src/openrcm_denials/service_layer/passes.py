"""The background pass over every practice's cases (the system role, openrcm_shared.row_security):

- SLA breaches: an unresolved case in a status longer than its service level (settings.DEFAULT_SLA_HOURS)
  gets DenialCaseSlaBreached, once per stay in that status (move_case clears the mark);
- payer history: outcome counts per payer x category recounted; where they changed, that key's open
  cases re-rank;
- deadlines: cases whose urgency changes today (domain.priority.needs_daily_refresh) re-rank once a day;
- mapping: unresolved cases categorized by another mapping version (or none) are categorized again;
- trends: open episodes whose key went quiet end.

Each part works in bounded batches, one transaction per batch; a failing round is logged and retried
at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_denials.adapters.tables import denial_cases
from openrcm_denials.domain.case_status import UNRESOLVED
from openrcm_denials.domain.categories import categorizer
from openrcm_denials.domain.priority import URGENT_WITHIN_DAYS
from openrcm_denials.service_layer.case_facts import rerank
from openrcm_denials.service_layer.case_moves import outbox_emitter
from openrcm_denials.service_layer.recategorize import recategorize
from openrcm_denials.service_layer.trends import end_subsided_episodes
from openrcm_denials.service_layer.working import refresh_outcomes
from openrcm_denials.settings import WorklistSettings
from openrcm_shared.contracts.denials import DenialCaseSlaBreached

log = logging.getLogger(__name__)
BATCH = 500
_UNRESOLVED_VALUES = [status.value for status in UNRESOLVED]


async def announce_sla_breaches(engine: AsyncEngine, now: datetime, sla_hours: dict[str, int]) -> int:
    announced = 0
    for status, hours in sla_hours.items():
        while True:
            async with engine.begin() as conn:
                rows = (await conn.execute(sa.select(
                    denial_cases.c.id, denial_cases.c.tenant_id, denial_cases.c.claim_id,
                    denial_cases.c.status_changed_at, denial_cases.c.assignee,
                ).where(denial_cases.c.status == status,
                        denial_cases.c.status_changed_at < now - timedelta(hours=hours),
                        denial_cases.c.sla_breached_status.is_distinct_from(status))
                    .limit(BATCH).with_for_update(skip_locked=True))).all()
                if not rows:
                    break
                await conn.execute(denial_cases.update().where(denial_cases.c.id.in_([r.id for r in rows]))
                                   .values(sla_breached_status=status))
                emit = outbox_emitter(conn)
                for row in rows:
                    await emit(DenialCaseSlaBreached(
                        tenant_id=row.tenant_id, case_id=row.id, claim_id=row.claim_id, status=status,
                        sla_hours=hours, in_status_since=row.status_changed_at, breached_at=now,
                        assignee=row.assignee))
                announced += len(rows)
    return announced


async def refresh_payer_history(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        keys = (await conn.execute(sa.select(denial_cases.c.tenant_id, denial_cases.c.payer_id, denial_cases.c.category)
                                   .where(denial_cases.c.status.in_(["won", "partially_won", "lost"]))
                                   .distinct())).all()
    changed = 0
    for key in keys:
        async with engine.begin() as conn:
            changed += await refresh_outcomes(conn, *key)
    return changed


async def _in_batches(engine: AsyncEngine, query, work) -> int:
    done = 0
    while True:
        async with engine.begin() as conn:
            rows = (await conn.execute(query.limit(BATCH))).all()
            for row in rows:
                await work(conn, row)
        done += len(rows)
        if len(rows) < BATCH:
            return done


async def rerank_approaching_deadlines(engine: AsyncEngine, today: date) -> int:
    query = sa.select(denial_cases.c.tenant_id, denial_cases.c.id).where(
        denial_cases.c.status.in_(_UNRESOLVED_VALUES),
        sa.or_(denial_cases.c.priority_as_of.is_(None), denial_cases.c.priority_as_of < today),
        denial_cases.c.work_deadline.between(today - timedelta(days=1), today + timedelta(days=URGENT_WITHIN_DAYS)))
    return await _in_batches(engine, query, lambda conn, row: rerank(conn, row.tenant_id, row.id, today))


async def recategorize_stale(engine: AsyncEngine, today: date) -> int:
    version = categorizer().version
    query = sa.select(denial_cases.c.tenant_id, denial_cases.c.id).where(
        denial_cases.c.status.in_(_UNRESOLVED_VALUES), denial_cases.c.mapping_version.is_distinct_from(version))

    async def work(conn, row):
        await recategorize(conn, outbox_emitter(conn), row.tenant_id, row.id, today)
        # a case whose lines are no denials under this mapping keeps its old version: mark it seen
        await conn.execute(denial_cases.update().where(denial_cases.c.id == row.id, denial_cases.c.mapping_version
                                                       .is_distinct_from(version)).values(mapping_version=version))
    return await _in_batches(engine, query, work)


async def one_round(engine: AsyncEngine, settings: WorklistSettings, now: datetime) -> int:
    today = now.date()
    return (await announce_sla_breaches(engine, now, settings.sla_hours_by_status())
            + await recategorize_stale(engine, today) + await refresh_payer_history(engine)
            + await rerank_approaching_deadlines(engine, today) + await end_subsided_episodes_in(engine, today))


async def end_subsided_episodes_in(engine: AsyncEngine, today: date) -> int:
    async with engine.begin() as conn:
        return await end_subsided_episodes(conn, today)


async def run_worklist_passes(runtime) -> None:
    settings = WorklistSettings()
    while True:
        try:
            if await one_round(runtime.system_engine, settings, datetime.now(timezone.utc)):
                runtime.events_staged()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database away: try again next round
            log.warning("denials worklist pass failed", extra={"error_class": type(exc).__name__})
        await asyncio.sleep(settings.pass_interval_seconds)
