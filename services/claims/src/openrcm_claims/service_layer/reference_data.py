"""Checks against the payer registry used when claims are taken in."""

from __future__ import annotations

import sqlalchemy as sa

from openrcm_claims.adapters.tables import payers
from openrcm_shared.http.problems import Problem, field_error


async def require_payer(conn, tenant_id: str, payer_id: str, pointer: str):
    """The payer's registry row; 422 naming the field when it is not in this practice's registry."""
    known = (await conn.execute(sa.select(payers).where(
        payers.c.tenant_id == tenant_id, payers.c.payer_id == payer_id))).first()
    if known is None:
        raise Problem(422, "Unknown payer", f"Payer {payer_id!r} is not registered; PUT /v1/payers/{payer_id} first.",
                      type_="unknown-payer", errors=[field_error(pointer, "unknown payer")])
    return known
