"""The remittance API."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from openrcm_remittance.adapters.tables import claim_payments, expected_claims, remittances
from openrcm_remittance.entrypoints.schemas import PostedClaimOut, RemittanceIn, RemittanceOut
from openrcm_remittance.service_layer.posting import post_remittance
from openrcm_shared.http.idempotency import idempotent_create
from openrcm_shared.http.problems import Problem
from openrcm_shared.http.tenancy import TenantDep

router = APIRouter(prefix="/v1", tags=["remittance"])


@router.post("/remittances", status_code=201, response_model=RemittanceOut,
             responses={409: {"description": "The payment (payer + trace number) was already posted"},
                        422: {"description": "Invalid fields, an unknown claim, or amounts that do not balance"}})
async def post_remittance_json(remittance: RemittanceIn, request: Request, tenant_id: TenantDep,
                               idempotency_key: Annotated[str | None, Header()] = None) -> Response:
    """Post a payer's payment decision per claim and line (manual posting of a paper EOB).

    Publishes RemittanceReceived, then per claim ClaimPaymentPosted and, where lines were denied,
    ClaimDenied with the CARC/RARC. All or nothing: an unbalanced or unmatched claim posts nothing.
    """
    return await idempotent_create(
        request, tenant_id=tenant_id, idempotency_key=idempotency_key,
        create=lambda conn: post_remittance(conn, tenant_id, remittance),
        location=lambda stored: f"/v1/remittances/{stored.id}", response_model=RemittanceOut)


@router.get("/remittances/{remittance_id}", response_model=RemittanceOut)
async def get_remittance(remittance_id: UUID, request: Request, tenant_id: TenantDep) -> RemittanceOut:
    async with request.app.state.runtime.engine.connect() as conn:
        header = (await conn.execute(sa.select(remittances).where(
            remittances.c.id == remittance_id, remittances.c.tenant_id == tenant_id))).first()
        if header is None:
            raise Problem(404, "Remittance not found", type_="not-found")
        payments = (await conn.execute(
            sa.select(claim_payments, expected_claims.c.patient_control_number)
            .join(expected_claims, expected_claims.c.claim_id == claim_payments.c.claim_id)
            .where(claim_payments.c.remittance_id == remittance_id))).all()
    return RemittanceOut(
        id=header.id, payer_id=header.payer_id, trace_number=header.trace_number,
        payment_amount=header.payment_amount, payment_date=header.payment_date, received_at=header.received_at,
        claims=[PostedClaimOut(
            claim_id=p.claim_id, patient_control_number=p.patient_control_number, outcome=p.outcome,
            charge_amount=p.charge_amount, allowed_amount=p.allowed_amount, paid_amount=p.paid_amount,
            patient_responsibility_amount=p.patient_responsibility_amount,
            denied_amount=p.denied_amount)
            for p in payments])

