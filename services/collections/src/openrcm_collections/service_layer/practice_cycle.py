"""The service's daily work for each practice, run by the scheduler's leader (scheduler.py): the
statement cycle from COLLECTIONS_STATEMENT_RUN_TIME on, and the claim status inquiries the payers'
follow-up ages call for.

Row-level security: the system role may not read accounts or receivables. It reads only the
practice registry (`collections_practices`: practice ids and the days their work last ran, no
patient data); each practice's work runs in a transaction of the app role bound to that practice,
as the consumer's does. A practice's registry row is locked for its run and the run's day is
written in the same transaction, so a second process (or a leader that lost its lock mid-run)
finds the day done and issues nothing twice.

Follow-up ages have one source of truth: collections (`PUT /v1/follow-up/payers/{payer_id}`, 45
days when unset). Once a day collections asks the claims service for a 276 (ClaimFollowUpRequested,
`ask_payer`) about each claim still waiting for its payer past that age, unless someone or this
pass asked in the last week; the claims service sends what it is asked and keeps no age of its own.
Each request is kept as a call note by `follow-up-scheduler`, so the worklist shows who asked.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from openrcm_collections.adapters.receivable_tables import (
    follow_up_assignments, follow_up_notes, payer_follow_up_settings, receivable_claims,
)
from openrcm_collections.adapters.tables import collections_practices
from openrcm_collections.receivables.follow_up import DEFAULT_FOLLOW_UP_DAYS, FollowUpAction
from openrcm_collections.service_layer.statements import run_statements
from openrcm_collections.settings import CollectionsSettings
from openrcm_shared.contracts.collections import ClaimFollowUpRequested
from openrcm_shared.db import bind_practice
from openrcm_shared.messaging.outbox import stage_events

# Waiting for the payer: sent, acknowledged by the clearinghouse, or accepted by the payer, not decided.
AWAITING_PAYER = ("submitted", "accepted_by_clearinghouse", "accepted_by_payer")
NOT_ASKED_AGAIN_WITHIN_DAYS = 7
FOLLOW_UP_REQUESTS_PER_DAY = 5000  # per practice; the oldest first, the rest the next day
SCHEDULER = "follow-up-scheduler"


async def registered_practices(system_engine) -> list:
    """Every practice the service holds accounts or claims for, with the days its statement run and
    follow-up pass last ran (the system role's read of the registry)."""
    async with system_engine.connect() as conn:
        return list((await conn.execute(sa.select(collections_practices)
                                        .order_by(collections_practices.c.tenant_id))).all())


def statement_day(now: datetime, run_time: time | None) -> date | None:
    """The day whose statement run is due at `now` (UTC): today, once the run time has come."""
    if run_time is None or now.time() < run_time:
        return None
    return now.date()


async def _claim_day(conn, tenant_id: str, column: sa.Column, day: date) -> bool:
    """Lock the practice's registry row; True when `column`'s work has not yet run for `day`."""
    last = (await conn.execute(sa.select(column).where(collections_practices.c.tenant_id == tenant_id)
                               .with_for_update())).first()
    return last is not None and (last[0] is None or last[0] < day)


async def _mark_day(conn, tenant_id: str, column: sa.Column, day: date) -> None:
    await conn.execute(sa.update(collections_practices).where(collections_practices.c.tenant_id == tenant_id)
                       .values({column.name: day}))


async def run_practice_statements(engine, tenant_id: str, day: date, settings: CollectionsSettings) -> dict | None:
    """The practice's statement run for `day`, unless it already ran (None then)."""
    async with engine.begin() as conn:
        await bind_practice(conn, tenant_id)
        if not await _claim_day(conn, tenant_id, collections_practices.c.statements_run_on, day):
            return None
        run = await run_statements(conn, tenant_id, day, settings)
        await _mark_day(conn, tenant_id, collections_practices.c.statements_run_on, day)
        return run


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def claims_past_follow_up_age(tenant_id: str, today: date):
    """The practice's claims still waiting for their payer longer than the payer's follow-up age,
    not asked about within the last week and not put off by someone (a next action date ahead)."""
    rc, ps, fa, notes = (receivable_claims.c, payer_follow_up_settings.c, follow_up_assignments.c,
                         follow_up_notes.c)
    asked_lately = sa.select(notes.id).where(
        notes.tenant_id == rc.tenant_id, notes.claim_id == rc.claim_id, notes.action == FollowUpAction.ASK_PAYER.value,
        notes.created_at >= _midnight(today - timedelta(days=NOT_ASKED_AGAIN_WITHIN_DAYS)))
    return (sa.select(rc.claim_id, rc.payer_id)
            .select_from(receivable_claims
                         .outerjoin(payer_follow_up_settings, sa.and_(ps.tenant_id == rc.tenant_id,
                                                                      ps.payer_id == rc.payer_id))
                         .outerjoin(follow_up_assignments, sa.and_(fa.tenant_id == rc.tenant_id,
                                                                   fa.claim_id == rc.claim_id)))
            .where(rc.tenant_id == tenant_id, rc.status.in_(AWAITING_PAYER), rc.balance > 0,
                   rc.first_billed_on < sa.literal(today, sa.Date)
                   - sa.func.coalesce(ps.follow_up_after_days, DEFAULT_FOLLOW_UP_DAYS),
                   sa.or_(fa.next_action_on.is_(None), fa.next_action_on <= today), ~sa.exists(asked_lately))
            .order_by(rc.first_billed_on, rc.claim_id).limit(FOLLOW_UP_REQUESTS_PER_DAY))


async def request_status_inquiries(engine, tenant_id: str, day: date) -> int | None:
    """Ask the claims service for a 276 about each claim past its payer's follow-up age (see the
    module); how many were asked, None when the practice's pass for `day` already ran."""
    now = datetime.now(timezone.utc)
    async with engine.begin() as conn:
        await bind_practice(conn, tenant_id)
        if not await _claim_day(conn, tenant_id, collections_practices.c.follow_up_run_on, day):
            return None
        due = (await conn.execute(claims_past_follow_up_age(tenant_id, day))).all()
        if due:
            await conn.execute(follow_up_notes.insert(), [dict(
                tenant_id=tenant_id, claim_id=claim.claim_id, outcome=None, action=FollowUpAction.ASK_PAYER.value,
                note="Status inquiry (276) asked: unpaid past the payer's follow-up age", next_action_on=None,
                author=SCHEDULER, created_at=now) for claim in due])
            await stage_events(conn, [ClaimFollowUpRequested(
                tenant_id=tenant_id, claim_id=claim.claim_id, payer_id=claim.payer_id,
                action=FollowUpAction.ASK_PAYER.value, outcome=None, requested_at=now) for claim in due],
                source="collections", aggregate_type="claim_follow_up")
        await _mark_day(conn, tenant_id, collections_practices.c.follow_up_run_on, day)
        return len(due)
