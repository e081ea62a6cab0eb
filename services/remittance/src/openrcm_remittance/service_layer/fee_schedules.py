"""Contracted fee schedules: stored as versions per payer, and what posting measures each line against.

The interface for payment posting, called inside the posting transaction (`conn` is in it; the
default READ COMMITTED isolation is assumed):

    amounts = await contracted_amounts(conn, tenant_id, payer_id, lines)        # list[Decimal | None]
    events = await record_variances(conn, tenant_id, remittance_id, payer_id, claim_id, posted)
    # the caller stages `events` (PaymentVarianceDetected, keyed by claim id) with its other events

* `contracted_amounts(conn, tenant_id, payer_id, lines: Sequence[LineKey]) -> list[Decimal | None]`:
  the contracted amount of each line in order (rate x units, to the cent), None where the payer has no
  schedule, no row applies on the date of service, or the units are not positive. One SELECT whatever
  the number of lines: pass the lines of a whole batch of claims of one payer at once.
* `record_variances(conn, tenant_id, remittance_id, payer_id, claim_id, posted: Sequence[PostedLineFacts],
  *, rates: ContractedRates | None = None) -> list[PaymentVarianceDetected]`: stores a
  `payment_variances` row for each line whose payer-allowed amount differs from the contracted one
  (underpayments positive, overpayments negative), and returns PaymentVarianceDetected for the
  underpayments above the schedule's tolerance (default 0.00, set per upload). Lines allowed at zero
  (denials) and reversals are skipped. It costs one SELECT and, when a line varies, one INSERT. To post
  an ERA of many claims with no SELECT per claim, load the rates once for all its lines and pass them:

      rates = await load_contracted_rates(conn, tenant_id, payer_id, every_line_of_the_era)
      for claim in claims:
          events += await record_variances(conn, tenant_id, remittance_id, payer_id, claim.id, claim.lines,
                                           rates=rates)

`remittance_id` must name a row already inserted in `remittances` (variance rows reference it).
The matching rules (modifier order, per-unit rates, effective dates) are in domain/fee_schedules.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_remittance.adapters.tables import (
    fee_schedule_entries, fee_schedule_versions, fee_schedules, payment_variances,
)
from openrcm_remittance.domain.fee_schedules import (
    ContractedRates, FeeScheduleRow, LineKey, PostedLineFacts, assess_variance,
)
from openrcm_remittance.service_layer import SOURCE
from openrcm_shared.contracts.remittance import (
    MAX_RATES_IN_EVENT, FeeScheduleRate, FeeScheduleRatesPublished, FeeScheduleReplaced, PaymentVarianceDetected,
)
from openrcm_shared.messaging.outbox import stage_events
from openrcm_shared.money import ZERO


__all__ = ["ContractedRates", "LineKey", "PostedLineFacts", "contracted_amounts", "load_contracted_rates",
           "record_variances", "assess_variances", "replace_fee_schedule", "StoredVersion"]

# SVC05 (units of service paid) is required only when the paid units are not one (005010X221A1, 2110
# SVC05): a line without units was paid for one.
DEFAULT_UNITS = Decimal(1)


# -- the posting interface ------------------------------------------------------------------------------


def _rates_query(tenant_id: str, payer_id: str, procedure_codes: list[str], first: date, last: date):
    """The rows of the version in force for these procedures that apply somewhere in [first, last]."""
    return (
        sa.select(fee_schedule_entries.c.procedure_code, fee_schedule_entries.c.modifier,
                  fee_schedule_entries.c.allowed_amount, fee_schedule_entries.c.effective_from,
                  fee_schedule_entries.c.effective_to, fee_schedule_entries.c.line_number,
                  fee_schedule_versions.c.id.label("version_id"), fee_schedule_versions.c.version,
                  fee_schedule_versions.c.variance_tolerance)
        .select_from(fee_schedules.join(fee_schedule_versions,
                                        fee_schedule_versions.c.id == fee_schedules.c.current_version_id)
                     .join(fee_schedule_entries, fee_schedule_entries.c.version_id == fee_schedule_versions.c.id))
        .where(fee_schedules.c.tenant_id == tenant_id, fee_schedules.c.payer_id == payer_id,
               fee_schedule_entries.c.procedure_code == sa.any_(sa.bindparam("procedure_codes", procedure_codes,
                                                                              type_=pg.ARRAY(sa.Text))),
               fee_schedule_entries.c.effective_from <= last,
               sa.or_(fee_schedule_entries.c.effective_to.is_(None), fee_schedule_entries.c.effective_to >= first)))


async def load_contracted_rates(conn: AsyncConnection, tenant_id: str, payer_id: str,
                                lines: Sequence[LineKey | PostedLineFacts]) -> ContractedRates:
    """The payer's rates in force for these lines' procedures and dates: one SELECT."""
    dated = [line for line in lines if line.service_date is not None]
    if not dated:
        return ContractedRates((), payer_id=payer_id)
    codes = sorted({line.procedure_code.strip().upper() for line in dated})
    first, last = min(line.service_date for line in dated), max(line.service_date for line in dated)
    rows = (await conn.execute(_rates_query(tenant_id, payer_id, codes, first, last))).all()
    if not rows:
        return ContractedRates((), payer_id=payer_id)
    return ContractedRates(
        (FeeScheduleRow(r.procedure_code, r.modifier, r.allowed_amount, r.effective_from, r.effective_to,
                        r.line_number) for r in rows),
        payer_id=payer_id, variance_tolerance=rows[0].variance_tolerance, version=rows[0].version,
        version_id=rows[0].version_id)


async def contracted_amounts(conn: AsyncConnection, tenant_id: str, payer_id: str,
                             lines: Sequence[LineKey]) -> list[Decimal | None]:
    """The contracted amount of each line, in order (None: no contracted amount). One SELECT."""
    rates = await load_contracted_rates(conn, tenant_id, payer_id, lines)
    return [rates.contracted_amount(line) for line in lines]


def _key(line: PostedLineFacts) -> LineKey:
    units = line.units if line.units is not None else DEFAULT_UNITS
    return LineKey(line.procedure_code, tuple(line.modifiers), line.service_date, units)


async def record_variances(conn: AsyncConnection, tenant_id: str, remittance_id: UUID, payer_id: str,
                           claim_id: UUID, posted: Sequence[PostedLineFacts], *,
                           rates: ContractedRates | None = None) -> list[PaymentVarianceDetected]:
    """Store the variances of one claim's posted lines; return the events to stage (see module docstring)."""
    if rates is None:
        rates = await load_contracted_rates(conn, tenant_id, payer_id, posted)
    rows, events = assess_variances(tenant_id, remittance_id, payer_id, claim_id, posted, rates)
    if rows:
        await conn.execute(payment_variances.insert(), rows)
    return events


def assess_variances(tenant_id: str, remittance_id: UUID, payer_id: str, claim_id: UUID,
                     posted: Sequence[PostedLineFacts], rates: ContractedRates,
                     ) -> tuple[list[dict], list[PaymentVarianceDetected]]:
    """The `payment_variances` rows and the events of one claim's posted lines, without writing
    them (a bulk posting writes the rows of many claims at once)."""
    if rates.payer_id != payer_id:
        raise ValueError(f"rates loaded for payer {rates.payer_id!r} used for payer {payer_id!r}")
    detected_at = datetime.now(timezone.utc)
    rows, events = [], []
    for line in posted:
        key = _key(line)
        variance = assess_variance(line, rates.contracted_amount(key), rates.variance_tolerance)
        if variance is None:
            continue
        rows.append(dict(
            id=uuid4(), tenant_id=tenant_id, remittance_id=remittance_id, claim_id=claim_id, payer_id=payer_id,
            line_number=line.line_number, procedure_code=key.procedure_code.strip().upper(),
            modifiers=list(key.modifiers), service_date=line.service_date, units=key.units,
            contracted_amount=variance.contracted_amount, allowed_amount=line.allowed_amount,
            paid_amount=line.paid_amount, variance_amount=variance.variance_amount, kind=variance.kind,
            beyond_tolerance=variance.beyond_tolerance, fee_schedule_version_id=rates.version_id,
            detected_at=detected_at))
        if variance.beyond_tolerance:
            events.append(PaymentVarianceDetected(
                tenant_id=tenant_id, claim_id=claim_id, remittance_id=remittance_id, payer_id=payer_id,
                line_number=line.line_number, procedure_code=key.procedure_code.strip().upper(),
                modifiers=list(key.modifiers), service_date=line.service_date,
                contracted_amount=variance.contracted_amount, allowed_amount=line.allowed_amount,
                variance_amount=variance.variance_amount, paid_amount=line.paid_amount))
    return rows, events


# -- uploading a schedule -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredVersion:
    id: UUID
    payer_id: str
    version: int
    row_count: int
    variance_tolerance: Decimal
    content_sha256: str
    uploaded_at: datetime


async def _next_version(conn: AsyncConnection, tenant_id: str, payer_id: str, now: datetime) -> int:
    """Lock the payer's schedule header (creating it) and return the number the new version gets."""
    current = (await conn.execute(
        pg_insert(fee_schedules).values(tenant_id=tenant_id, payer_id=payer_id, current_version=0, updated_at=now)
        .on_conflict_do_update(index_elements=["tenant_id", "payer_id"], set_={"updated_at": now})
        .returning(fee_schedules.c.current_version))).scalar_one()
    return current + 1


async def replace_fee_schedule(conn: AsyncConnection, tenant_id: str, payer_id: str, rows: Sequence[FeeScheduleRow],
                               *, content: bytes, variance_tolerance: Decimal = ZERO) -> StoredVersion:
    """Store `rows` as the payer's new version in force; earlier versions stay as they were."""
    now = datetime.now(timezone.utc)
    version = StoredVersion(uuid4(), payer_id, await _next_version(conn, tenant_id, payer_id, now), len(rows),
                            variance_tolerance, hashlib.sha256(content).hexdigest(), now)
    await conn.execute(fee_schedule_versions.insert().values(
        id=version.id, tenant_id=tenant_id, payer_id=payer_id, version=version.version, row_count=version.row_count,
        variance_tolerance=variance_tolerance, content_sha256=version.content_sha256, uploaded_at=now))
    await conn.execute(fee_schedule_entries.insert(), [
        dict(version_id=version.id, row_index=index, tenant_id=tenant_id, procedure_code=row.procedure_code,
             modifier=row.modifier, allowed_amount=row.allowed_amount, effective_from=row.effective_from,
             effective_to=row.effective_to, line_number=row.line_number)
        for index, row in enumerate(rows)])
    await conn.execute(fee_schedules.update()
                       .where(fee_schedules.c.tenant_id == tenant_id, fee_schedules.c.payer_id == payer_id)
                       .values(current_version=version.version, current_version_id=version.id, updated_at=now))
    await stage_events(conn, fee_schedule_events(tenant_id, version, rows), source=SOURCE,
                       aggregate_type="fee_schedule")
    return version


def fee_schedule_events(tenant_id: str, version: StoredVersion, rows: Sequence[FeeScheduleRow],
                        ) -> list[FeeScheduleReplaced | FeeScheduleRatesPublished]:
    """FeeScheduleReplaced with the rates in it when they fit (MAX_RATES_IN_EVENT), else followed
    by the rates in FeeScheduleRatesPublished parts of at most that many rows, in order (all keyed
    by payer: one partition, in this order), so every schedule reaches the consumers whatever its
    size and no Kafka message passes the broker's limit."""
    rates = [FeeScheduleRate(procedure_code=row.procedure_code, modifier=row.modifier,
                             allowed_amount=row.allowed_amount, effective_from=row.effective_from,
                             effective_to=row.effective_to) for row in rows]
    inline = len(rates) <= MAX_RATES_IN_EVENT
    starts = [] if inline else list(range(0, len(rates), MAX_RATES_IN_EVENT))
    header = dict(tenant_id=tenant_id, payer_id=version.payer_id, version=version.version)
    replaced = FeeScheduleReplaced(**header, row_count=version.row_count, content_sha256=version.content_sha256,
                                   variance_tolerance=version.variance_tolerance, rates=rates if inline else None,
                                   rate_parts=len(starts))
    return [replaced, *(FeeScheduleRatesPublished(**header, part=number, part_count=len(starts),
                                                  row_count=len(rates), first_row_index=start,
                                                  rates=rates[start:start + MAX_RATES_IN_EVENT])
                        for number, start in enumerate(starts, start=1))]
