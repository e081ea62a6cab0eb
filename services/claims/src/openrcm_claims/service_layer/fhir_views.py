"""A stored claim as FHIR: the Claim that was taken and its ClaimResponse, read in one snapshot."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.fhir.views import claim_resource, claim_response
from openrcm_claims.adapters.queries import load_claim
from openrcm_claims.adapters.tables import claim_adjudications, claim_history, claim_lines, claims
from openrcm_claims.entrypoints.schemas import EncounterIn


async def claim_as_fhir(conn: AsyncConnection, tenant_id: str, claim_id: UUID) -> dict | None:
    """The FHIR Claim of this practice's claim; None when it has no such claim."""
    row = (await conn.execute(sa.select(claims).where(claims.c.id == claim_id,
                                                      claims.c.tenant_id == tenant_id))).first()
    if row is None:
        return None
    lines = (await conn.execute(sa.select(claim_lines).where(claim_lines.c.claim_id == claim_id)
                                .order_by(claim_lines.c.line_number))).all()
    return claim_resource(row, lines, EncounterIn.model_validate(row.encounter_document))


async def claim_response_as_fhir(conn: AsyncConnection, tenant_id: str, claim_id: UUID) -> dict | None:
    """The claim's ClaimResponse as it stands: `conn` must see one snapshot (db.snapshot)."""
    claim = await load_claim(conn, tenant_id, claim_id)
    if claim is None:
        return None
    standing = (await conn.execute(sa.select(claim_adjudications).where(
        claim_adjudications.c.claim_id == claim_id, claim_adjudications.c.reversed_by_remittance_id.is_(None))
        .order_by(claim_adjudications.c.id))).all()
    return claim_response(claim, standing, rejection_reasons=await _rejection_reasons(conn, claim_id)
                          if claim.status == "rejected" else [])


async def _rejection_reasons(conn: AsyncConnection, claim_id: UUID) -> list[str]:
    """The reasons of the claim's latest rejection (999 IK3/IK4 codes, 277CA category:status)."""
    detail = (await conn.execute(sa.select(claim_history.c.detail).where(
        claim_history.c.claim_id == claim_id, claim_history.c.to_status == "rejected")
        .order_by(claim_history.c.id.desc()).limit(1))).scalar()
    reasons = (detail or {}).get("reasons") or []
    return [reason["code"] if isinstance(reason, dict) else str(reason) for reason in reasons]
