"""Correcting a claim before it goes out again: held (fix the data) or rejected (fix and resubmit).

Every correction is a new version of the same claim (same patient control number, so the
payer's records line up); the new version is scrubbed, and a clean one goes out with the next
batch.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import claim_history, claim_lines, claims
from openrcm_claims.domain.lifecycle import EDITABLE_STATUSES, WITH_PAYER_STATUSES, ClaimStatus
from openrcm_claims.entrypoints.schemas import EncounterIn
from openrcm_claims.service_layer.reference_data import require_payer
from openrcm_claims.service_layer.scrubbing import scrub_and_record
from openrcm_claims.service_layer.submission import claim_data, insert_lines
from openrcm_shared.http.problems import Problem, field_error


async def _locked_claim(conn: AsyncConnection, tenant_id: str, claim_id):
    claim = (await conn.execute(sa.select(claims).where(claims.c.id == claim_id, claims.c.tenant_id == tenant_id)
                                .with_for_update())).first()
    if claim is None:
        raise Problem(404, "Claim not found", type_="not-found")
    return claim


async def correct_claim(conn: AsyncConnection, tenant_id: str, claim_id, encounter: EncounterIn) -> None:
    """A held, ready or rejected claim with corrected data (frequency 1: the payer has not got it)."""
    claim = await _locked_claim(conn, tenant_id, claim_id)
    current = ClaimStatus(claim.status)
    if current not in EDITABLE_STATUSES:
        raise Problem(409, "Claim cannot be corrected now",
                      f"A {current.value} claim is with the payer; replace or void it instead.",
                      type_="claim-not-editable")
    await _new_version(conn, tenant_id, claim, encounter, frequency_code="1")


async def add_late_charges(conn: AsyncConnection, tenant_id: str, claim_id, lines: list) -> None:
    """Late charges join the claim while it has not gone out; past 50 lines the encounter is refused."""
    claim = await _locked_claim(conn, tenant_id, claim_id)
    document = dict(claim.encounter_document)
    document["lines"] = list(document["lines"]) + [line.model_dump(mode="json") for line in lines]
    try:
        encounter = EncounterIn.model_validate(document)
    except ValidationError:
        raise Problem(422, "Too many charge lines", "An 837P claim carries at most 50 lines.",
                      type_="validation-error", errors=[field_error("/lines", "more than 50 lines with these")]) from None
    await correct_claim(conn, tenant_id, claim_id, encounter)


async def _with_payer(conn: AsyncConnection, tenant_id: str, claim_id, action: str):
    """The claim, if the payer has it under a control number and takes replacements and voids."""
    claim = await _locked_claim(conn, tenant_id, claim_id)
    current = ClaimStatus(claim.status)
    if current not in WITH_PAYER_STATUSES or not claim.payer_claim_control_number:
        raise Problem(409, f"Claim cannot be {action}d now",
                      f"Only a claim the payer accepted (with its payer claim control number) can be {action}d; "
                      f"this one is {current.value}.", type_="claim-not-with-payer")
    payer = await require_payer(conn, tenant_id, claim.payer_id, "/coverage/payer_id")
    if not payer.replacement_claims_accepted:
        # Medicare and others take corrections only as new claims (frequency 1).
        raise Problem(422, f"Payer does not accept {action}s",
                      f"Payer {claim.payer_id} takes corrections as new claims (frequency 1), not frequency 7 or 8.",
                      type_="payer-refuses-replacements")
    return claim


async def replace_claim(conn: AsyncConnection, tenant_id: str, claim_id, encounter: EncounterIn) -> None:
    """Frequency 7: the corrected claim replaces the one the payer has (REF*F8 names it)."""
    claim = await _with_payer(conn, tenant_id, claim_id, "replace")
    await _new_version(conn, tenant_id, claim, encounter, frequency_code="7")


async def void_claim(conn: AsyncConnection, tenant_id: str, claim_id) -> None:
    """Frequency 8: the payer's claim is cancelled; the same data goes out once more as a void."""
    claim = await _with_payer(conn, tenant_id, claim_id, "void")
    encounter = EncounterIn.model_validate(claim.encounter_document)
    await _new_version(conn, tenant_id, claim, encounter, frequency_code="8")


async def _new_version(conn: AsyncConnection, tenant_id: str, claim, encounter: EncounterIn, *,
                       frequency_code: str) -> None:
    current = ClaimStatus(claim.status)
    claim_id = claim.id
    if encounter.encounter_id != claim.encounter_id:
        raise Problem(422, "The request has invalid fields", type_="validation-error",
                      errors=[field_error("/encounter_id", "must be the claim's encounter id")])
    payer = await require_payer(conn, tenant_id, encounter.coverage.payer_id, "/coverage/payer_id")
    data = claim_data(encounter, payer)
    version = claim.version + 1
    now = datetime.now(timezone.utc)
    await conn.execute(claims.update().where(claims.c.id == claim_id)
                       .values(version=version, updated_at=now, frequency_code=frequency_code, **data["columns"]))
    await conn.execute(claim_lines.delete().where(claim_lines.c.claim_id == claim_id))
    await insert_lines(conn, tenant_id, claim_id, encounter)
    await conn.execute(claim_history.insert().values(
        claim_id=claim_id, tenant_id=tenant_id, occurred_at=now,
        kind={"1": "corrected", "7": "replaced", "8": "voided"}[frequency_code], from_status=current,
        to_status=None, event_id=None,
        detail={"version": version, "frequency_code": frequency_code, "total_charge": str(data["total_charge"])}))
    await scrub_and_record(conn, tenant_id=tenant_id, claim_id=claim_id, version=version, from_status=current,
                           encounter=encounter, patient_control_number=claim.patient_control_number,
                           total_charge=data["total_charge"], payer=payer)
