"""The payment-plan scheduler: once per interval, the practices with installments due today are run
(`run_due_installments`), each in its own transaction acting for that practice. One process leads
(advisory lock, as the outbox relay does): several replicas never charge an installment twice, and
the processor's idempotency key per installment and attempt covers a leader that dies mid-run."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

import sqlalchemy as sa

from openrcm_collections.adapters.tables import plan_installments
from openrcm_collections.service_layer.plans import run_due_installments
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


async def run_scheduler(runtime, processor) -> None:
    settings = CollectionsSettings()

    async def lead(_lock_conn) -> None:
        while True:
            try:
                await run_day(runtime, processor, settings, date.today())
            except Exception as exc:  # one bad practice must not stop the others' next run
                log.warning("payment plan run failed", extra={"error_class": type(exc).__name__})
            await asyncio.sleep(settings.scheduler_interval_seconds)

    await AdvisoryLockLeadership(runtime.system_engine, "collections-payment-plans", role="plan scheduler").run(lead)
