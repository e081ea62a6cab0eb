"""An answer recorded by hand (a portal, a phone call): stored and announced like a payer's."""

from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_eligibility.adapters.tables import eligibility_checks
from openrcm_eligibility.entrypoints.schemas import EligibilityCheckIn, EligibilityCheckOut
from openrcm_eligibility.service_layer.announcements import announce_answer


async def record_check(conn: AsyncConnection, tenant_id: str, check: EligibilityCheckIn) -> EligibilityCheckOut:
    now = datetime.now(timezone.utc)
    values = dict(id=uuid4(), tenant_id=tenant_id, **check.model_dump(exclude={"service_date"}),
                  service_date=check.service_date or date.today(), status="active" if check.coverage_active
                  else "inactive", origin="recorded", requested_at=now, checked_at=now, attempts=0)
    row = (await conn.execute(eligibility_checks.insert().values(**values).returning(*eligibility_checks.c))).one()
    await announce_answer(conn, row, now)
    return EligibilityCheckOut(**values)
