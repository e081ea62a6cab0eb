"""Batches: many checks queued at once for the worker (which keeps each payer's limit)."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_eligibility.adapters.tables import (
    eligibility_batches, eligibility_checks, eligibility_coverages, pending_checks,
)
from openrcm_eligibility.entrypoints.schemas import EligibilityBatchIn, EligibilityBatchOut
from openrcm_eligibility.service_layer.checks import CheckRequest, new_check
from openrcm_shared.http.problems import Problem, field_error

FINAL = ("active", "inactive", "unknown")


async def create_batch(conn: AsyncConnection, tenant_id: str, batch: EligibilityBatchIn) -> EligibilityBatchOut:
    """Every item's coverage must be registered (422 naming each item that is not); then one check
    per item, due now. Batches always ask the payer: they are what fills the cache for the day."""
    wanted = sorted({item.coverage_id for item in batch.items})
    rows = (await conn.execute(sa.select(eligibility_coverages).where(
        eligibility_coverages.c.tenant_id == tenant_id, eligibility_coverages.c.coverage_id.in_(wanted)))).all()
    by_id: dict[str, list] = {}
    for row in rows:
        by_id.setdefault(row.coverage_id, []).append(row)
    chosen, unknown = [], []
    for i, item in enumerate(batch.items):
        candidates = [row for row in by_id.get(item.coverage_id, ())
                      if item.patient_id is None or row.patient_id == item.patient_id]
        if len(candidates) == 1:
            chosen.append(candidates[0])
        else:
            unknown.append(field_error(f"/items/{i}/coverage_id", "not a registered coverage" if not candidates
                                       else "several patients have this coverage id: give patient_id"))
    if unknown:
        raise Problem(422, "Unknown coverages", "Register these coverages with claims first.",
                      type_="validation-error", errors=unknown[:100])
    now = datetime.now(timezone.utc)
    batch_id = uuid4()
    await conn.execute(eligibility_batches.insert().values(id=batch_id, tenant_id=tenant_id,
                                                           check_count=len(batch.items), created_at=now))
    rows = [new_check(tenant_id, coverage, CheckRequest(item.coverage_id, item.service_date, item.service_types,
                                                        batch.provider_npi, batch.provider_name),
                      origin="batch", now=now, first_try_at=now, batch_id=batch_id)
            for item, coverage in zip(batch.items, chosen)]
    # Two multi-row statements, not two per item: a night's batch holds thousands.
    await conn.execute(eligibility_checks.insert(), [check for check, _ in rows])
    await conn.execute(pending_checks.insert(), [queued for _, queued in rows])
    return await batch_view(conn, tenant_id, batch_id)


async def batch_view(conn: AsyncConnection, tenant_id: str, batch_id: UUID,
                     with_checks: bool = False) -> EligibilityBatchOut | None:
    batch = (await conn.execute(sa.select(eligibility_batches).where(
        eligibility_batches.c.tenant_id == tenant_id, eligibility_batches.c.id == batch_id))).first()
    if batch is None:
        return None
    counts = dict((await conn.execute(
        sa.select(eligibility_checks.c.status, sa.func.count()).where(eligibility_checks.c.batch_id == batch_id)
        .group_by(eligibility_checks.c.status))).all())
    check_ids = None
    if with_checks:
        check_ids = list((await conn.execute(sa.select(eligibility_checks.c.id).where(
            eligibility_checks.c.batch_id == batch_id).order_by(eligibility_checks.c.requested_at,
                                                                 eligibility_checks.c.id))).scalars())
    return EligibilityBatchOut(
        id=batch.id, check_count=batch.check_count, created_at=batch.created_at, finished_at=batch.finished_at,
        done=sum(counts.get(s, 0) for s in FINAL), pending=counts.get("pending", 0), failed=counts.get("error", 0),
        counts=counts, check_ids=check_ids)
