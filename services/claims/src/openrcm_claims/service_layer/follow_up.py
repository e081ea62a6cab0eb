"""Watching the clock on claims: timely filing deadlines and missing acknowledgements.

- 30 and 7 days before a claim's filing deadline, while the payer has not accepted it, publish
  ClaimFilingDeadlineApproaching (once per threshold; the alerts table remembers).
- A claim still `submitted` (no 999/277CA) past its payer's acknowledgement window is flagged
  for follow-up (ClaimFlaggedForFollowUp; `GET /v1/claims?follow_up=true`).
Both run as a background task of the claims service and take `today`/`now` so they can be
driven by tests.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_claims.adapters.tables import (
    claim_history, claim_submissions, claims, filing_deadline_alerts, payers, submissions,
)
from openrcm_claims.service_layer.claim_events import stage_claim_events
from openrcm_claims.domain.lifecycle import ClaimStatus
from openrcm_shared.contracts.claims import ClaimFilingDeadlineApproaching, ClaimFlaggedForFollowUp

log = logging.getLogger(__name__)
ALERT_DAYS_BEFORE = (30, 7)
# Not yet accepted by the payer: the deadline still matters.
AT_RISK = (ClaimStatus.HELD, ClaimStatus.READY, ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE,
           ClaimStatus.REJECTED)


async def alert_filing_deadlines(engine: AsyncEngine, today: date, *, limit: int = 1000) -> int:
    alerted = 0
    async with engine.begin() as conn:
        for days in ALERT_DAYS_BEFORE:
            already = sa.select(filing_deadline_alerts.c.claim_id).where(
                filing_deadline_alerts.c.claim_id == claims.c.id, filing_deadline_alerts.c.days_before == days)
            due = (await conn.execute(
                sa.select(claims.c.id, claims.c.tenant_id, claims.c.status, claims.c.filing_deadline)
                .where(claims.c.status.in_([s.value for s in AT_RISK]),
                       claims.c.filing_deadline <= today + timedelta(days=days), ~sa.exists(already))
                .limit(limit).with_for_update(skip_locked=True))).all()
            for claim in due:
                await _alert(conn, claim, days)
            alerted += len(due)
    return alerted


async def _alert(conn, claim, days: int) -> None:
    now = datetime.now(timezone.utc)
    await conn.execute(filing_deadline_alerts.insert().values(claim_id=claim.id, tenant_id=claim.tenant_id,
                                                              days_before=days, alerted_at=now))
    [envelope] = await stage_claim_events(conn, [ClaimFilingDeadlineApproaching(
        tenant_id=claim.tenant_id, claim_id=claim.id, status=claim.status, filing_deadline=claim.filing_deadline,
        days_before=days)])
    await conn.execute(claim_history.insert().values(
        claim_id=claim.id, tenant_id=claim.tenant_id, occurred_at=now, kind="filing_deadline_approaching",
        from_status=None, to_status=None, event_id=envelope.id,
        detail={"filing_deadline": claim.filing_deadline.isoformat(), "days_before": days}))


async def flag_unacknowledged(engine: AsyncEngine, now: datetime, *, limit: int = 1000) -> int:
    sent_at = sa.func.coalesce(submissions.c.sent_at, submissions.c.created_at)
    async with engine.begin() as conn:
        waiting = (await conn.execute(
            sa.select(claims.c.id, claims.c.tenant_id, sa.func.max(sent_at).label("submitted_at"),
                      payers.c.acknowledgement_follow_up_days)
            .join(claim_submissions, sa.and_(claim_submissions.c.claim_id == claims.c.id,
                                             claim_submissions.c.version == claims.c.version))
            .join(submissions, submissions.c.id == claim_submissions.c.submission_id)
            .join(payers, sa.and_(payers.c.tenant_id == claims.c.tenant_id, payers.c.payer_id == claims.c.payer_id))
            .where(claims.c.status == ClaimStatus.SUBMITTED, claims.c.follow_up_flagged_at.is_(None))
            .group_by(claims.c.id, claims.c.tenant_id, payers.c.acknowledgement_follow_up_days)
            .limit(limit))).all()
        overdue = [w for w in waiting if w.submitted_at + timedelta(days=w.acknowledgement_follow_up_days) < now]
        overdue = await _lock_unflagged(conn, overdue)
        for claim in overdue:
            await conn.execute(claims.update().where(claims.c.id == claim.id).values(follow_up_flagged_at=now))
            days = (now - claim.submitted_at).days
            [envelope] = await stage_claim_events(conn, [ClaimFlaggedForFollowUp(
                tenant_id=claim.tenant_id, claim_id=claim.id, submitted_at=claim.submitted_at,
                days_without_acknowledgement=days)])
            await conn.execute(claim_history.insert().values(
                claim_id=claim.id, tenant_id=claim.tenant_id, occurred_at=now, kind="flagged_for_follow_up",
                from_status=None, to_status=None, event_id=envelope.id,
                detail={"days_without_acknowledgement": days}))
    return len(overdue)


async def _lock_unflagged(conn, candidates: list) -> list:
    """The candidates still unflagged, locked; those another replica is flagging (locked) or has
    flagged are left out, so two replicas running this loop never flag a claim twice. (The query
    that finds candidates aggregates, and PostgreSQL locks no rows of an aggregate.)"""
    if not candidates:
        return []
    locked = set((await conn.execute(
        sa.select(claims.c.id).where(claims.c.id.in_([c.id for c in candidates]),
                                     claims.c.status == ClaimStatus.SUBMITTED, claims.c.follow_up_flagged_at.is_(None))
        .with_for_update(skip_locked=True))).scalars())
    return [c for c in candidates if c.id in locked]


async def run_follow_up_loop(runtime, interval_seconds: float) -> None:
    while True:
        try:
            # Every practice's claims: the system role (openrcm_shared.row_security).
            if await alert_filing_deadlines(runtime.system_engine, date.today()) + await flag_unacknowledged(
                    runtime.system_engine, datetime.now(timezone.utc)):
                runtime.events_staged()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database away: try again next round
            log.warning("follow-up round failed", extra={"error_class": type(exc).__name__})
        await asyncio.sleep(interval_seconds)
