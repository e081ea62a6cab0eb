"""What the eligibility service's answers change in claims: the payer's latest answer per patient,
payer and date of service (for the scrubber's ELIG.* rules; what a change does to claims already
taken is in eligibility_rescrub), and the order of benefits when a 271 names another payer primary."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import coverage_eligibility, coverages
from openrcm_claims.domain.scrubber import ScrubEligibility
from openrcm_shared.contracts.eligibility import CoverageChanged, EligibilityChecked
from openrcm_shared.messaging.consumer import HandlerContext


def _scrub_effect(status: str | None, authorization_types) -> tuple[bool, frozenset[str]]:
    """What an answer makes the scrubber's ELIG.* rules decide for its date (no answer: nothing)."""
    return status == "inactive", frozenset(authorization_types or ())


async def record_eligibility_answer(conn: AsyncConnection, event: EligibilityChecked) -> bool:
    """Keep the latest answer per date of service (answers recorded by hand have no date: skipped).
    True when the answer was kept and changes what the ELIG.* rules decide for that date: the
    coverage became inactive or active again, or other service types need prior authorization."""
    if event.service_date is None:
        return False
    key = (coverage_eligibility.c.tenant_id == event.tenant_id, coverage_eligibility.c.patient_id == event.patient_id,
           coverage_eligibility.c.payer_id == event.payer_id,
           coverage_eligibility.c.service_date == event.service_date)
    previous = (await conn.execute(sa.select(coverage_eligibility.c.status,
                                             coverage_eligibility.c.authorization_required_service_types)
                                   .where(*key).with_for_update())).first()
    status = "active" if event.coverage_active else "inactive"
    values = dict(check_id=event.check_id, status=status,
                  authorization_required_service_types=list(event.authorization_required_service_types),
                  primary_payer_id=event.primary_payer_id, checked_at=event.checked_at)
    kept = (await conn.execute(
        pg_insert(coverage_eligibility).values(tenant_id=event.tenant_id, patient_id=event.patient_id,
                                               payer_id=event.payer_id, service_date=event.service_date, **values)
        .on_conflict_do_update(index_elements=["tenant_id", "patient_id", "payer_id", "service_date"], set_=values,
                               where=coverage_eligibility.c.checked_at <= event.checked_at)
        .returning(coverage_eligibility.c.check_id))).first()
    before = _scrub_effect(*previous) if previous is not None else _scrub_effect(None, ())
    return kept is not None and before != _scrub_effect(status, event.authorization_required_service_types)


async def eligibility_answers(conn: AsyncConnection | None, tenant_id: str, patient_id: str | None, payer_id: str,
                              dates: Iterable[date]) -> tuple[ScrubEligibility, ...]:
    """The answers the scrubber needs for a claim's dates of service (none without a connection)."""
    days = sorted(set(dates))
    if conn is None or patient_id is None or not days:
        return ()
    rows = (await conn.execute(sa.select(coverage_eligibility).where(
        coverage_eligibility.c.tenant_id == tenant_id, coverage_eligibility.c.patient_id == patient_id,
        coverage_eligibility.c.payer_id == payer_id, coverage_eligibility.c.service_date.in_(days)))).all()
    return tuple(ScrubEligibility(row.service_date, row.status, str(row.check_id),
                                  tuple(row.authorization_required_service_types)) for row in rows)


async def on_coverage_changed(ctx: HandlerContext, event: CoverageChanged) -> None:
    """Another payer is primary: when the patient has a coverage with that payer, it takes order 1
    and the coverage the 271 was about takes the order it had (claims taken from now on follow)."""
    if "other_payer_primary" not in event.changes or not event.primary_payer_id:
        return
    rows = (await ctx.conn.execute(sa.select(coverages.c.coverage_id, coverages.c.payer_id,
                                             coverages.c.order_of_benefits).where(
        coverages.c.tenant_id == event.tenant_id, coverages.c.patient_id == event.patient_id)
        .with_for_update())).all()
    checked = next((row for row in rows if row.coverage_id == event.coverage_id), None)
    primary = next((row for row in rows if row.payer_id == event.primary_payer_id), None)
    if checked is None or primary is None or primary.order_of_benefits <= checked.order_of_benefits:
        return  # no coverage of the named payer registered, or it is already ahead
    await _swap_order(ctx.conn, event.tenant_id, event.patient_id, checked, primary)


async def _swap_order(conn: AsyncConnection, tenant_id: str, patient_id: str, checked, primary) -> None:
    # Order 0 for a moment: no two coverages of a patient hold one order over the same dates.
    for coverage_id, order in ((primary.coverage_id, 0), (checked.coverage_id, primary.order_of_benefits),
                               (primary.coverage_id, checked.order_of_benefits)):
        await conn.execute(coverages.update().where(
            coverages.c.tenant_id == tenant_id, coverages.c.patient_id == patient_id,
            coverages.c.coverage_id == coverage_id).values(order_of_benefits=order, updated_at=sa.func.now()))
