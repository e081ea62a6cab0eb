"""A practice set up in a scratch claims database: its payer registered, encounters to take in
(shared by the integration tests; synthetic data only)."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from openrcm_claims.adapters.tables import payers
from openrcm_claims.entrypoints.schemas import EncounterIn
from tests.support import encounter as encounter_document


async def register_payer(engine, tenant_id: str, *, timely_filing_days: int = 365,
                         enrollment_required: bool = False) -> None:
    values = {"name": "Synthetic Health Plan", "claim_types": ["professional"],
              "timely_filing_days": timely_filing_days, "enrollment_required": enrollment_required,
              "replacement_claims_accepted": True, "acknowledgement_follow_up_days": 30,
              "updated_at": datetime.now(timezone.utc)}
    async with engine.begin() as conn:  # as PUT /v1/payers does, from whichever process
        await conn.execute(sa.dialects.postgresql.insert(payers)
                           .values(tenant_id=tenant_id, payer_id="60054", **values)
                           .on_conflict_do_update(index_elements=["tenant_id", "payer_id"], set_=values))


def an_encounter(**changes) -> EncounterIn:
    return EncounterIn.model_validate({**encounter_document(), **changes})
