"""A real-time check: the cached answer when it still stands, else a 270 now and the 271 within
the real-time timeout, else the check stays pending and the worker finishes it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from openrcm_eligibility.adapters.tables import eligibility_checks, pending_checks
from openrcm_eligibility.domain.cache import CachedAnswer, recheck_reason
from openrcm_eligibility.service_layer.checks import CheckRequest, attempt, coverage_or_none, create_check, exchanger
from openrcm_eligibility.settings import CacheSettings
from openrcm_shared.audit import record_change
from openrcm_shared.http.problems import Problem, field_error


def coverage_not_found(coverage_id: str) -> Problem:
    return Problem(404, "Coverage not registered",
                   f"No coverage {coverage_id} was registered with claims (PUT /v1/patients/{{id}}/coverages/{{id}}).",
                   type_="not-found", errors=[field_error("/coverage_id", "not a registered coverage")])


async def cached_check(conn, tenant_id: str, coverage, service_date, now: datetime):
    """The latest final answer for the coverage and date of service when no re-check rule applies."""
    latest = (await conn.execute(
        sa.select(eligibility_checks).where(
            eligibility_checks.c.tenant_id == tenant_id, eligibility_checks.c.coverage_id == coverage.coverage_id,
            eligibility_checks.c.patient_id == coverage.patient_id,
            eligibility_checks.c.service_date == service_date, eligibility_checks.c.status.in_(("active", "inactive")))
        .order_by(eligibility_checks.c.checked_at.desc()).limit(1))).first()
    if latest is None:
        return None
    plan_end = ((latest.result or {}).get("plan") or {}).get("end")
    answer = CachedAnswer(latest.status, latest.checked_at,
                          datetime.fromisoformat(plan_end).date() if plan_end else None)
    ttl = timedelta(hours=CacheSettings().ttl_hours)
    if recheck_reason(answer, now=now, ttl=ttl, recheck_requested_at=coverage.recheck_requested_at) is None:
        return latest
    return None


async def check_now(runtime, tenant_id: str, request: CheckRequest, *, use_cache: bool = True):
    """(check id, cached): the answer is on the check unless it is still pending."""
    deps = exchanger()
    settings = deps.settings
    now = datetime.now(timezone.utc)
    async with runtime.engine.begin() as conn:
        coverage = await coverage_or_none(conn, tenant_id, request.coverage_id, request.patient_id)
        if coverage is None:
            raise coverage_not_found(request.coverage_id)
        if use_cache and (cached := await cached_check(conn, tenant_id, coverage, request.service_date, now)):
            return cached.id, True
        # Leased to this request for as long as it may try: the worker takes it up only after.
        lease = now + timedelta(seconds=settings.realtime_timeout_seconds + settings.exchange_timeout_seconds + 5)
        check = await create_check(conn, tenant_id, coverage, request, origin="real_time", now=now,
                                   first_try_at=lease)
        await record_change(conn, resource_id=check["id"], patient_id=check["patient_id"])
    await _try_within(runtime, check["id"], settings.realtime_timeout_seconds)
    return check["id"], False


async def _try_within(runtime, check_id, budget: float) -> None:
    """One attempt within the budget. A transient failure is the worker's to retry, with backoff,
    from the due time the attempt set (retrying here too could send the check twice at once)."""
    try:
        await asyncio.wait_for(attempt(runtime.engine, check_id, budget), timeout=budget)
    except asyncio.TimeoutError:
        # The payer did not answer in time: the worker sends it again at once (not after the lease).
        await _release_to_worker(runtime, check_id)
    runtime.events_staged()


async def _release_to_worker(runtime, check_id) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(pending_checks.update().where(pending_checks.c.check_id == check_id)
                           .values(due_at=datetime.now(timezone.utc)))
