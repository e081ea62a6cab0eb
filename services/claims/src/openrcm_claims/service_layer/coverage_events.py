"""CoverageRegistered: what the eligibility service needs of a registration to ask payers (a 270)."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import coverages, patients, payers
from openrcm_claims.service_layer.claim_events import SOURCE
from openrcm_shared.contracts.claims import CoverageRegistered, RegisteredPerson
from openrcm_shared.messaging.outbox import stage_events


async def announce_coverages(conn: AsyncConnection, tenant_id: str, patient_id: str,
                             coverage_id: str | None = None) -> None:
    """Stage CoverageRegistered for one coverage of the patient, or for each of them (after the
    patient's demographics changed: the 270 carries them), in the caller's transaction."""
    query = (sa.select(coverages, patients.c.first_name, patients.c.last_name, patients.c.birth_date,
                       patients.c.gender, payers.c.name.label("payer_name"))
             .join(patients, sa.and_(patients.c.tenant_id == coverages.c.tenant_id,
                                     patients.c.patient_id == coverages.c.patient_id))
             .outerjoin(payers, sa.and_(payers.c.tenant_id == coverages.c.tenant_id,
                                        payers.c.payer_id == coverages.c.payer_id))
             .where(coverages.c.tenant_id == tenant_id, coverages.c.patient_id == patient_id))
    if coverage_id is not None:
        query = query.where(coverages.c.coverage_id == coverage_id)
    now = datetime.now(timezone.utc)
    events = [_event(row, now) for row in (await conn.execute(query)).all()]
    await stage_events(conn, events, source=SOURCE, aggregate_type="coverage")


def _event(row, now: datetime) -> CoverageRegistered:
    subscriber = row.subscriber
    return CoverageRegistered(
        tenant_id=row.tenant_id, patient_id=row.patient_id, coverage_id=row.coverage_id, payer_id=row.payer_id,
        payer_name=row.payer_name,
        member_id=row.member_id, group_number=row.group_number,
        relationship_to_subscriber=row.relationship_to_subscriber, order_of_benefits=row.order_of_benefits,
        effective_from=row.effective_from, effective_to=row.effective_to,
        patient=RegisteredPerson(first_name=row.first_name, last_name=row.last_name, birth_date=row.birth_date,
                                 gender=row.gender),
        subscriber=RegisteredPerson(**subscriber) if subscriber and row.relationship_to_subscriber != "18" else None,
        registered_at=now)
