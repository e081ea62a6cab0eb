"""Events from answers: EligibilityChecked for every final answer about a known patient,
CoverageInactive when the payer says inactive, CoverageChanged when the answer disagrees with the
coverage's previous one (another payer primary, plan dates moved), EligibilityBatchFinished when
the last check of a batch is done. Staged in the transaction that stores the answer."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_eligibility.adapters.tables import eligibility_batches, eligibility_checks
from openrcm_shared.contracts.eligibility import (
    CoverageChanged, CoverageInactive, EligibilityBatchFinished, EligibilityChecked,
)
from openrcm_shared.messaging.outbox import stage_events

SOURCE = "/openrcm/eligibility"
AGGREGATE = "eligibility_check"
FINAL = ("active", "inactive")


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _primary_payer(result: dict | None) -> dict | None:
    payers = (result or {}).get("other_payers") or []
    return next((p for p in payers if p.get("entity_code") == "PRP"), None)


def _authorization_types(result: dict) -> list[str]:
    return sorted(code for code, summary in result.get("summary", {}).items()
                  if summary.get("prior_authorization_required"))


async def announce_answer(conn: AsyncConnection, check, now: datetime) -> None:
    """`check` is the answered row of eligibility_checks."""
    await announce_answers(conn, [check], now)


async def announce_answers(conn: AsyncConnection, checks: list, now: datetime) -> None:
    """Stage the events of answered rows of eligibility_checks, in their order, in one statement.

    A coverage's previous final answer (for CoverageChanged) is read once for all of them; an
    answer earlier in `checks` is the previous one of a later answer of the same coverage."""
    announced = [check for check in checks if check.status in FINAL and check.patient_id is not None]
    if not announced:
        return
    previous = await _previous_results(conn, announced)
    events: list = []
    for check in announced:
        result = check.result or {}
        events += _answer_events(check, result, previous.get(check.coverage_id), now)
        if check.coverage_id is not None:
            previous[check.coverage_id] = result
    await stage_events(conn, events, source=SOURCE, aggregate_type=AGGREGATE)


def _answer_events(check, result: dict, previous: dict | None, now: datetime) -> list:
    plan = result.get("plan") or {}
    primary = _primary_payer(result)
    events: list = [EligibilityChecked(
        tenant_id=check.tenant_id, check_id=check.id, patient_id=check.patient_id, payer_id=check.payer_id,
        coverage_active=check.status == "active", copay_amount=check.copay_amount,
        deductible_amount=check.deductible_amount, deductible_remaining=check.deductible_remaining,
        coinsurance_percent=check.coinsurance_percent, checked_at=now, coverage_id=check.coverage_id,
        service_date=check.service_date, status=check.status, plan_begin=_date(plan.get("begin")),
        plan_end=_date(plan.get("end")), out_of_pocket_remaining=check.out_of_pocket_remaining,
        primary_payer_id=primary.get("identifier") if primary else None,
        authorization_required_service_types=_authorization_types(result))]
    if check.coverage_id is not None:
        if check.status == "inactive":
            events.append(CoverageInactive(
                tenant_id=check.tenant_id, check_id=check.id, patient_id=check.patient_id,
                coverage_id=check.coverage_id, payer_id=check.payer_id, service_date=check.service_date,
                plan_end=_date(plan.get("end")), checked_at=now))
        changed = _changes(previous, plan, primary)
        if changed:
            events.append(CoverageChanged(
                tenant_id=check.tenant_id, check_id=check.id, patient_id=check.patient_id,
                coverage_id=check.coverage_id, payer_id=check.payer_id, changes=changed,
                primary_payer_id=primary.get("identifier") if primary else None,
                primary_payer_name=primary.get("name") if primary else None,
                plan_begin=_date(plan.get("begin")), plan_end=_date(plan.get("end")), checked_at=now))
    return events


async def _previous_results(conn: AsyncConnection, checks: list) -> dict[str, dict]:
    """Per coverage of `checks`: the result of its latest final answer before them (none of them)."""
    coverages = sorted({check.coverage_id for check in checks if check.coverage_id is not None})
    if not coverages:
        return {}
    latest = min(check.checked_at for check in checks)
    rows = (await conn.execute(
        sa.select(eligibility_checks.c.coverage_id, eligibility_checks.c.result).where(
            eligibility_checks.c.tenant_id == checks[0].tenant_id, eligibility_checks.c.coverage_id.in_(coverages),
            eligibility_checks.c.id.not_in([check.id for check in checks]),
            eligibility_checks.c.status.in_(FINAL), eligibility_checks.c.checked_at <= latest)
        .order_by(eligibility_checks.c.coverage_id, eligibility_checks.c.checked_at.desc())
        .distinct(eligibility_checks.c.coverage_id))).all()
    return {row.coverage_id: row.result for row in rows}


def _changes(previous: dict | None, plan: dict, primary: dict | None) -> list[str]:
    """What this answer says that the coverage's previous final answer did not."""
    changes = []
    before = _primary_payer(previous)
    if primary is not None and (before is None or before.get("identifier") != primary.get("identifier")):
        changes.append("other_payer_primary")
    if previous is not None:
        old_plan = previous.get("plan") or {}
        if (old_plan.get("begin"), old_plan.get("end")) != (plan.get("begin"), plan.get("end")):
            changes.append("plan_dates")
    return changes


async def finish_batch_if_done(engine, batch_id: UUID | None, now: datetime) -> None:
    """Mark the batch finished and announce it, once, when none of its checks is pending.

    Called after the transaction that answered one of its checks has committed, never inside it:
    of checks answered at the same moment, the last to commit sees all the others committed, so
    some call always finds the batch done, and the conditional update lets only one announce it.
    (Checked inside the answering transaction, each would have to lock the batch row to see the
    others, and every answer of a batch would wait for the commit before it.)"""
    if batch_id is None:
        return
    async with engine.begin() as conn:
        pending = (await conn.execute(sa.select(sa.func.count()).where(
            eligibility_checks.c.batch_id == batch_id, eligibility_checks.c.status == "pending"))).scalar()
        if pending:
            return
        batch = (await conn.execute(
            eligibility_batches.update().where(eligibility_batches.c.id == batch_id,
                                               eligibility_batches.c.finished_at.is_(None))
            .values(finished_at=now).returning(eligibility_batches.c.tenant_id, eligibility_batches.c.check_count)
        )).first()
        if batch is None:
            return  # another call finished it
        counts = dict((await conn.execute(
            sa.select(eligibility_checks.c.status, sa.func.count()).where(eligibility_checks.c.batch_id == batch_id)
            .group_by(eligibility_checks.c.status))).all())
        await stage_events(conn, [EligibilityBatchFinished(
            tenant_id=batch.tenant_id, batch_id=batch_id, check_count=batch.check_count,
            active=counts.get("active", 0), inactive=counts.get("inactive", 0),
            failed=sum(n for status, n in counts.items() if status not in FINAL), finished_at=now)],
            source=SOURCE, aggregate_type="eligibility_batch")
