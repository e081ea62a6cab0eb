"""The collections scheduler: one process leads (advisory lock, as the outbox relay does) and, once
per COLLECTIONS_SCHEDULER_INTERVAL_SECONDS, for each practice in turn:

* runs the payment plans with installments due today (`run_due_installments`);
* settles card/ACH payments left unrecorded past their grace (payment_intents.reconcile_intents);
* from COLLECTIONS_STATEMENT_RUN_TIME on, runs the day's statement cycle once (practice_cycle);
* once a day, asks the claims service for status inquiries on claims past their payer's
  follow-up age (practice_cycle).

Each practice's work is its own transaction of the app role bound to that practice; the system
role only reads which practices there are. Several replicas never charge an installment or issue a
statement twice: one leads, the processor's idempotency key per installment and attempt covers a
leader that dies mid-run, and a practice's statement day is claimed under a row lock in the run's
own transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime, timezone

import sqlalchemy as sa

from openrcm_collections.adapters.tables import plan_installments
from openrcm_collections.service_layer.payment_intents import (
    grace_cutoff, practices_with_open_intents, reconcile_intents,
)
from openrcm_collections.service_layer.plans import run_due_installments
from openrcm_collections.service_layer.practice_cycle import (
    registered_practices, request_status_inquiries, run_practice_statements, statement_day,
)
from openrcm_collections.settings import CollectionsSettings
from openrcm_shared.db import bind_practice
from openrcm_shared.leadership import AdvisoryLockLeadership

log = logging.getLogger(__name__)


async def practices_due(system_engine, as_of: date) -> list[str]:
    """The practices with an installment due by `as_of` (the system role reads across practices)."""
    async with system_engine.connect() as conn:
        return list((await conn.execute(sa.select(plan_installments.c.tenant_id).distinct().where(
            plan_installments.c.status.in_(("scheduled", "missed")), plan_installments.c.due_date <= as_of))).scalars())


async def run_day(runtime, processor, settings: CollectionsSettings, as_of: date) -> int:
    """Run every practice's due plans as of `as_of`; returns how many practices were run."""
    tenants = await practices_due(runtime.system_engine, as_of)
    for tenant_id in tenants:
        async with runtime.engine.begin() as conn:
            await bind_practice(conn, tenant_id)
            await run_due_installments(conn, tenant_id, as_of, processor, settings)
        runtime.events_staged()
    return len(tenants)


async def run_practices(runtime, processor, settings: CollectionsSettings, now: datetime) -> dict[str, int]:
    """One round of the practices' payment intents, statement cycles and follow-up requests (the
    plans run in `run_day`): only the work not yet done (the registry says which days ran), each
    practice in its own transactions. A practice whose work fails is logged; the others still run."""
    done = {"intents_settled": 0, "statement_runs": 0, "follow_up_requests": 0}
    day, today = statement_day(now, settings.statement_run_time), now.date()
    cutoff = grace_cutoff(now, settings.payment_intent_grace_seconds)
    open_intents = await practices_with_open_intents(runtime.system_engine, cutoff)
    for practice in await registered_practices(runtime.system_engine):
        tenant_id = practice.tenant_id
        steps: list[tuple[str, Callable]] = []
        if tenant_id in open_intents:
            steps.append(("intents_settled", lambda: _reconcile(runtime.engine, tenant_id, processor, cutoff)))
        if practice.follow_up_run_on is None or practice.follow_up_run_on < today:
            steps.append(("follow_up_requests", lambda: request_status_inquiries(runtime.engine, tenant_id, today)))
        if day is not None and (practice.statements_run_on is None or practice.statements_run_on < day):
            steps.append(("statement_runs", lambda: run_practice_statements(runtime.engine, tenant_id, day, settings)))
        for name, step in steps:
            try:
                result = await step()
            except Exception as exc:  # one practice's failure must not stop the others
                log.warning("scheduled practice work failed",
                            extra={"work": name, "tenant_id": tenant_id, "error_class": type(exc).__name__})
                continue
            if result:
                done[name] += 1 if isinstance(result, dict) else result
                runtime.events_staged()
    return done


async def _reconcile(engine, tenant_id: str, processor, older_than: datetime) -> int:
    async with engine.begin() as conn:
        await bind_practice(conn, tenant_id)
        outcomes = await reconcile_intents(conn, tenant_id, processor, older_than=older_than)
    return sum(outcomes.values())


async def run_scheduler(runtime, processor, settings: CollectionsSettings | None = None) -> None:
    settings = settings or CollectionsSettings()

    async def lead(_lock_conn) -> None:
        while True:
            now = datetime.now(timezone.utc)
            try:
                await run_day(runtime, processor, settings, now.date())
            except Exception as exc:  # one bad practice must not stop the others' next run
                log.warning("payment plan run failed", extra={"error_class": type(exc).__name__})
            try:
                await run_practices(runtime, processor, settings, now)
            except Exception as exc:  # the registry unreadable (database away): next round
                log.warning("practice round failed", extra={"error_class": type(exc).__name__})
            await asyncio.sleep(settings.scheduler_interval_seconds)

    await AdvisoryLockLeadership(runtime.system_engine, "collections-payment-plans", role="collections scheduler").run(lead)
