"""Payment plans: created with their schedule to the cent, renegotiated, cancelled, run on a day."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from openrcm_collections.adapters.tables import payment_plans
from openrcm_collections.entrypoints.schemas import (
    DueRunIn, DueRunOut, PaymentPlanChangeIn, PaymentPlanIn, PaymentPlanOut, ScheduleLineOut,
)
from openrcm_collections.service_layer.plans import change_plan, create_plan, plan_view, run_due_installments
from openrcm_collections.settings import CollectionsSettings
from openrcm_shared.audit import audited
from openrcm_shared.audit.recording import record_change
from openrcm_shared.http.idempotency import IDEMPOTENCY_HEADER, idempotent_create
from openrcm_shared.security.practice import CollectionsWork, PaymentsWrite

router = APIRouter(prefix="/v1", tags=["payment plans"])


@router.post("/accounts/{patient_id}/payment-plans", status_code=201, response_model=PaymentPlanOut,
             responses={409: {"description": "The account already has an open plan, or same Idempotency-Key in flight"},
                        422: {"description": "Invalid fields, installments that cannot cover the total, a total "
                                             "above the balance, or Idempotency-Key reused"}})
@audited("create", "payment_plan", resource_id="id", patient_id="patient_id")
async def post_payment_plan(patient_id: str, body: PaymentPlanIn, request: Request, tenant_id: PaymentsWrite,
                            idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER)) -> Response:
    """A plan for (part of) the balance: the schedule to the cent (the last installment takes the remainder)."""
    settings = CollectionsSettings()

    async def create(conn) -> PaymentPlanOut:
        plan = await create_plan(conn, tenant_id, patient_id, total=body.total, installments=body.installments,
                                 installment_amount=body.installment_amount, frequency=body.frequency,
                                 first_due_date=body.first_due_date, autopay_token=body.autopay_token,
                                 settings=settings)
        return plan_out(await plan_view(conn, tenant_id, plan["id"]))
    return await idempotent_create(request, tenant_id=tenant_id, idempotency_key=idempotency_key, create=create,
                                   response_model=PaymentPlanOut, location=lambda p: f"/v1/payment-plans/{p.id}")


@router.get("/accounts/{patient_id}/payment-plans", response_model=list[PaymentPlanOut])
@audited("list", "payment_plan", patient_id="patient_id")
async def list_payment_plans(patient_id: str, request: Request, tenant_id: CollectionsWork) -> list[PaymentPlanOut]:
    """The account's plans, newest first (few per account: not paginated)."""
    async with request.app.state.runtime.engine.begin() as conn:
        ids = (await conn.execute(sa.select(payment_plans.c.id).where(
            payment_plans.c.tenant_id == tenant_id, payment_plans.c.patient_id == patient_id)
            .order_by(payment_plans.c.created_at.desc()))).scalars().all()
        return [plan_out(await plan_view(conn, tenant_id, plan_id)) for plan_id in ids]


@router.get("/payment-plans/{plan_id}", response_model=PaymentPlanOut,
            responses={404: {"description": "No such payment plan"}})
@audited("read", "payment_plan", resource_id="id", patient_id="patient_id")
async def get_payment_plan(plan_id: UUID, request: Request, tenant_id: CollectionsWork) -> PaymentPlanOut:
    async with request.app.state.runtime.engine.begin() as conn:
        return plan_out(await plan_view(conn, tenant_id, plan_id))


_CHANGE_RESPONSES = {404: {"description": "No such payment plan"},
                     409: {"description": "The plan is closed (paid off or cancelled)"},
                     422: {"description": "Installments that cannot cover what is left"}}


@router.post("/payment-plans/{plan_id}/renegotiate", response_model=PaymentPlanOut, responses=_CHANGE_RESPONSES)
@audited("update", "payment_plan", resource_id="id", patient_id="patient_id")
async def renegotiate_payment_plan(plan_id: UUID, body: PaymentPlanChangeIn, request: Request,
                                   tenant_id: PaymentsWrite) -> PaymentPlanOut:
    """What is left of the plan in a new schedule (a delinquent or defaulted plan becomes active again)."""
    return await _changed(request, tenant_id, plan_id, installments=body.installments,
                          installment_amount=body.installment_amount, frequency=body.frequency,
                          first_due_date=body.first_due_date)


@router.post("/payment-plans/{plan_id}/cancel", response_model=PaymentPlanOut, responses=_CHANGE_RESPONSES)
@audited("update", "payment_plan", resource_id="id", patient_id="patient_id")
async def cancel_payment_plan(plan_id: UUID, request: Request, tenant_id: PaymentsWrite) -> PaymentPlanOut:
    """The plan ends; what it had not collected is owed on the account as before (dunning resumes)."""
    return await _changed(request, tenant_id, plan_id, cancel=True)


@router.post("/payment-plans/due-runs", response_model=DueRunOut)
@audited("update", "payment_plan")
async def run_due_payment_plans(body: DueRunIn, request: Request, tenant_id: PaymentsWrite) -> DueRunOut:
    """Run the practice's plans as of a day, as the scheduler does each day: autopay charges the
    installments due, missed ones move plans to delinquent, then defaulted."""
    async with request.app.state.runtime.engine.begin() as conn:
        plans = await run_due_installments(conn, tenant_id, body.as_of, request.app.state.payment_processor,
                                           CollectionsSettings())
        views = [plan_out(await plan_view(conn, tenant_id, plan["id"])) for plan in plans]
    request.app.state.runtime.events_staged()
    return DueRunOut(as_of=body.as_of, plans=views)


async def _changed(request: Request, tenant_id: str, plan_id: UUID, **change) -> PaymentPlanOut:
    async with request.app.state.runtime.engine.begin() as conn:
        await change_plan(conn, tenant_id, plan_id, **change)
        out = plan_out(await plan_view(conn, tenant_id, plan_id))
        await record_change(conn, resource=out)
    request.app.state.runtime.events_staged()
    return out


def plan_out(view: dict) -> PaymentPlanOut:
    return PaymentPlanOut(
        id=view["id"], patient_id=view["patient_id"], total=view["total"], remaining=view["remaining"],
        frequency=view["frequency"], autopay=bool(view["autopay_token"]), status=view["status"],
        grace_days=view["grace_days"], created_at=view["created_at"], updated_at=view["updated_at"],
        schedule=[ScheduleLineOut(**{name: line[name] for name in ScheduleLineOut.model_fields})
                  for line in view["schedule"]])
