"""What other contexts tell eligibility: the coverages claims registered (CoverageRegistered), what
makes their cached answers stale (ClaimDenied for an eligibility reason), and each payer's
contracted rates (FeeScheduleReplaced, and FeeScheduleRatesPublished parts for a schedule too large
for one event), for estimates."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_eligibility.adapters.tables import eligibility_coverages, fee_schedule_rate_parts, fee_schedule_rates
from openrcm_shared.contracts.claims import CoverageRegistered
from openrcm_shared.contracts.remittance import (
    ClaimDenied, FeeScheduleRate, FeeScheduleRatesPublished, FeeScheduleReplaced,
)
from openrcm_shared.messaging.consumer import HandlerContext

# CARCs that say the payer found no coverage for the patient on the date of service: 22 (another
# payer is primary), 26/27 (before coverage began / after it ended), 31 (not identified as our
# insured), 33 (no dependent coverage), 109 (not covered by this payer), 177 (eligibility
# requirements not met). Such a denial means the cached answer was wrong or is out of date.
ELIGIBILITY_CARCS = frozenset({"22", "26", "27", "31", "33", "109", "177"})


async def on_coverage_registered(ctx: HandlerContext, event: CoverageRegistered) -> None:
    values = dict(
        payer_id=event.payer_id, payer_name=event.payer_name, member_id=event.member_id,
        group_number=event.group_number, relationship_to_subscriber=event.relationship_to_subscriber,
        order_of_benefits=event.order_of_benefits, effective_from=event.effective_from,
        effective_to=event.effective_to, patient=event.patient.model_dump(mode="json"),
        subscriber=event.subscriber.model_dump(mode="json") if event.subscriber else None,
        registered_at=event.registered_at)
    # A changed registration (a name fixed after an AAA 73, a new member id) makes the answers
    # cached before it stale: the next check asks the payer again.
    changed = {**values, "recheck_requested_at": datetime.now(timezone.utc)}
    await ctx.conn.execute(
        pg_insert(eligibility_coverages).values(tenant_id=event.tenant_id, patient_id=event.patient_id,
                                               coverage_id=event.coverage_id, **values)
        .on_conflict_do_update(index_elements=["tenant_id", "patient_id", "coverage_id"], set_=changed,
                               # events of one patient arrive in order, but a replay must not go back in time
                               where=eligibility_coverages.c.registered_at <= event.registered_at))


async def on_claim_denied(ctx: HandlerContext, event: ClaimDenied) -> None:
    """A denial for eligibility: the patient's coverages with that payer are asked again next time."""
    if not any(item.carc in ELIGIBILITY_CARCS for item in event.denials):
        return
    await ctx.conn.execute(
        eligibility_coverages.update()
        .where(eligibility_coverages.c.tenant_id == event.tenant_id,
               eligibility_coverages.c.patient_id == event.patient_id,
               eligibility_coverages.c.payer_id == event.payer_id)
        .values(recheck_requested_at=datetime.now(timezone.utc)))


async def on_fee_schedule_replaced(ctx: HandlerContext, event: FeeScheduleReplaced) -> None:
    """The payer's rates become the event's, unless a newer version is already held. A schedule
    too large to travel in the event comes in `rate_parts` FeeScheduleRatesPublished parts: the
    rates held stay until the last part has arrived (on_fee_schedule_rates_published)."""
    if event.rates is None and event.rate_parts:
        return
    held = await _held_version(ctx.conn, event.tenant_id, event.payer_id)
    if held is not None and held > event.version:
        return
    # rates None without parts: a producer from before the parts; the payer has no rates here.
    await _apply_rates(ctx.conn, event.tenant_id, event.payer_id, event.version, event.rates or [])


async def on_fee_schedule_rates_published(ctx: HandlerContext, event: FeeScheduleRatesPublished) -> None:
    """Keep one part of a large schedule; with the last of its parts, the version's rates replace
    the payer's (in the order of the schedule's rows), and its parts are dropped. Parts of a
    version older than the one held are ignored."""
    held = await _held_version(ctx.conn, event.tenant_id, event.payer_id)
    if held is not None and held >= event.version:
        return
    key = (fee_schedule_rate_parts.c.tenant_id == event.tenant_id, fee_schedule_rate_parts.c.payer_id == event.payer_id)
    await ctx.conn.execute(pg_insert(fee_schedule_rate_parts).values(
        tenant_id=event.tenant_id, payer_id=event.payer_id, version=event.version, part=event.part,
        part_count=event.part_count, first_row_index=event.first_row_index,
        rates=[rate.model_dump(mode="json") for rate in event.rates], received_at=datetime.now(timezone.utc))
        .on_conflict_do_nothing())
    parts = (await ctx.conn.execute(
        sa.select(fee_schedule_rate_parts.c.rates).where(*key, fee_schedule_rate_parts.c.version == event.version)
        .order_by(fee_schedule_rate_parts.c.part))).scalars().all()
    if len(parts) < event.part_count:
        return
    rates = [FeeScheduleRate.model_validate(rate) for part in parts for rate in part]
    await _apply_rates(ctx.conn, event.tenant_id, event.payer_id, event.version, rates)


async def _held_version(conn: AsyncConnection, tenant_id: str, payer_id: str) -> int | None:
    return (await conn.execute(sa.select(sa.func.max(fee_schedule_rates.c.version)).where(
        fee_schedule_rates.c.tenant_id == tenant_id, fee_schedule_rates.c.payer_id == payer_id))).scalar()


async def _apply_rates(conn: AsyncConnection, tenant_id: str, payer_id: str, version: int,
                       rates: list[FeeScheduleRate]) -> None:
    """The payer's rates here become `rates` (version `version`); parts of this version or older
    ones still kept are dropped."""
    await conn.execute(fee_schedule_rates.delete().where(fee_schedule_rates.c.tenant_id == tenant_id,
                                                         fee_schedule_rates.c.payer_id == payer_id))
    await conn.execute(fee_schedule_rate_parts.delete().where(
        fee_schedule_rate_parts.c.tenant_id == tenant_id, fee_schedule_rate_parts.c.payer_id == payer_id,
        fee_schedule_rate_parts.c.version <= version))
    if rates:
        await conn.execute(fee_schedule_rates.insert(), [
            dict(tenant_id=tenant_id, payer_id=payer_id, row_index=index, version=version,
                 procedure_code=rate.procedure_code, modifier=rate.modifier, allowed_amount=rate.allowed_amount,
                 effective_from=rate.effective_from, effective_to=rate.effective_to)
            for index, rate in enumerate(rates)])
