"""Correcting a claim before it goes out again: held (fix the data) or rejected (fix and resubmit).

Every correction is a new version of the same claim (same patient control number, so the
payer's records line up); the new version is scrubbed, and a clean one goes out with the next
batch.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import claim_history, claim_lines, claims
from openrcm_claims.domain.lifecycle import EDITABLE_STATUSES, ClaimStatus
from openrcm_claims.entrypoints.schemas import EncounterIn
from openrcm_claims.service_layer.reference_data import require_payer
from openrcm_claims.service_layer.scrubbing import scrub_and_record
from openrcm_claims.service_layer.submission import claim_data, insert_lines
from openrcm_shared.http.problems import Problem, field_error


async def correct_claim(conn: AsyncConnection, tenant_id: str, claim_id, encounter: EncounterIn) -> None:
    claim = (await conn.execute(sa.select(claims).where(claims.c.id == claim_id, claims.c.tenant_id == tenant_id)
                                .with_for_update())).first()
    if claim is None:
        raise Problem(404, "Claim not found", type_="not-found")
    current = ClaimStatus(claim.status)
    if current not in EDITABLE_STATUSES:
        raise Problem(409, "Claim cannot be corrected now",
                      f"A {current.value} claim is with the payer; replace or void it instead.",
                      type_="claim-not-editable")
    if encounter.encounter_id != claim.encounter_id:
        raise Problem(422, "The request has invalid fields", type_="validation-error",
                      errors=[field_error("/encounter_id", "must be the claim's encounter id")])
    payer = await require_payer(conn, tenant_id, encounter.coverage.payer_id, "/coverage/payer_id")
    data = claim_data(encounter, payer)
    version = claim.version + 1
    now = datetime.now(timezone.utc)
    await conn.execute(claims.update().where(claims.c.id == claim_id)
                       .values(version=version, updated_at=now, **data["columns"]))
    await conn.execute(claim_lines.delete().where(claim_lines.c.claim_id == claim_id))
    await insert_lines(conn, tenant_id, claim_id, encounter)
    await conn.execute(claim_history.insert().values(
        claim_id=claim_id, tenant_id=tenant_id, occurred_at=now, kind="corrected", from_status=current,
        to_status=None, event_id=None, detail={"version": version, "total_charge": str(data["total_charge"])}))
    await scrub_and_record(conn, tenant_id=tenant_id, claim_id=claim_id, version=version, from_status=current,
                           encounter=encounter, patient_control_number=claim.patient_control_number,
                           total_charge=data["total_charge"], payer=payer)
