"""Recording a coverage check and announcing it."""

from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_eligibility.adapters.tables import eligibility_checks
from openrcm_eligibility.entrypoints.schemas import EligibilityCheckIn, EligibilityCheckOut
from openrcm_shared.contracts.eligibility import EligibilityChecked
from openrcm_shared.messaging.outbox import stage_events

SOURCE = "/openrcm/eligibility"


async def record_check(conn: AsyncConnection, tenant_id: str, check: EligibilityCheckIn) -> EligibilityCheckOut:
    stored = EligibilityCheckOut(id=uuid4(), checked_at=datetime.now(timezone.utc),
                                 **check.model_dump(exclude={"service_date"}),
                                 service_date=check.service_date or date.today())
    await conn.execute(eligibility_checks.insert().values(tenant_id=tenant_id, **stored.model_dump()))
    await stage_events(conn, [EligibilityChecked(
        tenant_id=tenant_id, check_id=stored.id, patient_id=stored.patient_id, payer_id=stored.payer_id,
        coverage_active=stored.coverage_active, copay_amount=stored.copay_amount,
        deductible_amount=stored.deductible_amount, deductible_remaining=stored.deductible_remaining,
        coinsurance_percent=stored.coinsurance_percent, checked_at=stored.checked_at,
    )], source=SOURCE, aggregate_type="eligibility_check")
    return stored
