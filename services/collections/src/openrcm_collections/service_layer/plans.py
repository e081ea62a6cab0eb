"""Payment plans: created from the account's balance, paid by the account's payments (autopay
charges through the processor when an installment is due), moved along their standing by the
scheduler on a given day, renegotiated or cancelled; a PaymentPlanChanged for each change."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa

from openrcm_collections.adapters.payment_processor import PaymentProcessor
from openrcm_collections.adapters.tables import payment_plans, plan_installments
from openrcm_collections.domain.payment_plans import (
    InstallmentState, UnworkablePlan, apply_to_installments, plan_standing, schedule,
)
from openrcm_collections.service_layer.ledger import lock_account
from openrcm_collections.service_layer.payments import AGGREGATE, SOURCE, PaymentRequest, take_payment
from openrcm_collections.settings import CollectionsSettings
from openrcm_shared.contracts.collections import PaymentPlanChanged
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.messaging.outbox import stage_events
from openrcm_shared.money import ZERO

OPEN_STATUSES = ("active", "delinquent")  # a plan the account's payments go to


async def create_plan(conn, tenant_id: str, patient_id: str, *, total: Decimal, installments: int | None,
                      installment_amount: Decimal | None, frequency: str, first_due_date: date,
                      autopay_token: str | None, settings: CollectionsSettings) -> dict:
    now = _now()
    balance = await lock_account(conn, tenant_id, patient_id, now)
    if await _open_plan(conn, tenant_id, patient_id) is not None:
        raise Problem(409, "The account already has a plan", "renegotiate or cancel it first", type_="plan-exists")
    if total > balance:
        raise Problem(422, "The request has invalid fields", type_="validation-error", errors=[field_error(
            "/total", f"more than the account's balance ({max(balance, ZERO)})")])
    try:
        lines = schedule(total, first_due_date, frequency, installments=installments,
                         installment_amount=installment_amount)
    except UnworkablePlan as unworkable:
        raise Problem(422, "The installments cannot cover the total", str(unworkable), type_="validation-error",
                      errors=[field_error(unworkable.field, str(unworkable))]) from None
    plan = dict(id=uuid.uuid4(), tenant_id=tenant_id, patient_id=patient_id, total=total, frequency=frequency,
                autopay_token=autopay_token, status="active", grace_days=settings.plan_grace_days,
                created_at=now, updated_at=now)
    await conn.execute(payment_plans.insert().values(**plan))
    await conn.execute(plan_installments.insert(), [
        dict(tenant_id=tenant_id, plan_id=plan["id"], number=line.number, due_date=line.due_date, amount=line.amount,
             paid_amount=ZERO, status="scheduled", attempts=0) for line in lines])
    await _announce(conn, plan, "created", total)
    return plan


async def credit_plan(conn, tenant_id: str, patient_id: str, amount: Decimal, payment_id: UUID) -> list[dict]:
    """A payment on the account pays the open plan's installments, earliest first (an early payoff
    pays them all). Returns what it paid of each installment (kept on the payment, so a return of
    the payment can take exactly that back)."""
    plan = await _open_plan(conn, tenant_id, patient_id)
    if plan is None:
        return []
    installments = await _installments(conn, plan["id"])
    paid = apply_to_installments([i for i in installments if i.unpaid > ZERO], amount)
    for number, taken in paid:
        await conn.execute(sa.update(plan_installments).where(
            plan_installments.c.plan_id == plan["id"], plan_installments.c.number == number).values(
            paid_amount=plan_installments.c.paid_amount + taken, payment_id=payment_id,
            status=sa.case((plan_installments.c.paid_amount + taken >= plan_installments.c.amount, "paid"),
                           else_=plan_installments.c.status)))
    if paid:
        remaining = await _remaining(conn, plan["id"])
        status = "paid_off" if remaining == ZERO else plan["status"]
        await _set_status(conn, plan, status)
        await _announce(conn, {**plan, "status": status}, "paid_off" if status == "paid_off" else "installment_paid",
                        remaining)
    return [{"plan_id": str(plan["id"]), "number": number, "amount": str(taken)} for number, taken in paid]


async def uncredit_plan(conn, credits: list[dict]) -> None:
    """A returned payment (NSF check, ACH return, chargeback) no longer pays the installments it
    paid: each is owed again by what the payment gave it (`credits`, from credit_plan), and a plan
    it had paid off is open again. The grace period then runs from each installment's own due date."""
    by_plan: dict[str, list[dict]] = defaultdict(list)
    for credit in credits:
        by_plan[credit["plan_id"]].append(credit)
    for plan_id, taken_back in by_plan.items():
        plan = await _plan(conn, UUID(plan_id), lock=True)
        for credit in taken_back:
            owed_again = plan_installments.c.paid_amount - Decimal(credit["amount"])
            await conn.execute(sa.update(plan_installments).where(
                plan_installments.c.plan_id == plan["id"], plan_installments.c.number == credit["number"]).values(
                paid_amount=owed_again,
                status=sa.case((sa.and_(plan_installments.c.status == "paid",
                                        owed_again < plan_installments.c.amount), "scheduled"),
                               else_=plan_installments.c.status)))
        status = "active" if plan["status"] == "paid_off" else plan["status"]
        if status != plan["status"]:
            await _set_status(conn, plan, status)
        await _announce(conn, {**plan, "status": status}, "installment_returned", await _remaining(conn, plan["id"]))


async def run_due_installments(conn, tenant_id: str, as_of: date, processor: PaymentProcessor,
                               settings: CollectionsSettings) -> list[dict]:
    """The practice's plans on `as_of`: autopay charges each installment due (once per installment
    and attempt: the processor key names them), then every open plan's standing is brought up to
    date (delinquent after the grace period, defaulted after `plan_default_days`)."""
    plans = [dict(row._mapping) for row in (await conn.execute(sa.select(payment_plans).where(
        payment_plans.c.tenant_id == tenant_id, payment_plans.c.status.in_(OPEN_STATUSES))
        .order_by(payment_plans.c.created_at))).all()]
    for plan in plans:
        if plan["autopay_token"]:
            await _autopay(conn, plan, as_of, processor)
        plan.update(await _plan(conn, plan["id"]))
        if plan["status"] not in OPEN_STATUSES:
            continue
        standing = plan_standing(await _installments(conn, plan["id"]), as_of, grace_days=plan["grace_days"],
                                 default_days=settings.plan_default_days)
        if standing != plan["status"]:
            await conn.execute(sa.update(plan_installments).where(
                plan_installments.c.plan_id == plan["id"], plan_installments.c.status == "scheduled",
                plan_installments.c.due_date < as_of, plan_installments.c.paid_amount < plan_installments.c.amount)
                .values(status="missed"))
            await _set_status(conn, plan, standing)
            plan["status"] = standing
            await _announce(conn, plan, standing, await _remaining(conn, plan["id"]))
    return plans


async def _autopay(conn, plan: dict, as_of: date, processor: PaymentProcessor) -> None:
    due = [i for i in await _installments(conn, plan["id"]) if i.due_date <= as_of and i.unpaid > ZERO]
    for installment in due:
        attempts = (await conn.execute(sa.update(plan_installments).where(
            plan_installments.c.plan_id == plan["id"], plan_installments.c.number == installment.number)
            .values(attempts=plan_installments.c.attempts + 1).returning(plan_installments.c.attempts))).scalar_one()
        key = f"{plan['tenant_id']}:plan:{plan['id']}:{installment.number}:{attempts}"
        charge = PaymentRequest(installment.unpaid, "card", f"plan installment {installment.number}",
                                plan["autopay_token"], None, plan_id=plan["id"])
        try:
            async with conn.begin_nested():
                await take_payment(conn, plan["tenant_id"], plan["patient_id"], charge, actor="payment-plan-autopay",
                                   processor=processor, processor_key=key)
        except Problem:  # declined (or the processor away): the installment stays due; its grace period runs
            await _announce(conn, plan, "installment_declined", await _remaining(conn, plan["id"]))
            return


async def change_plan(conn, tenant_id: str, plan_id: UUID, *, cancel: bool = False,
                      installments: int | None = None, installment_amount: Decimal | None = None,
                      frequency: str | None = None, first_due_date: date | None = None) -> dict:
    """Cancel the plan, or renegotiate what is left of it into a new schedule (numbers continue)."""
    plan = await _plan(conn, plan_id, tenant_id=tenant_id, lock=True)
    if plan["status"] not in OPEN_STATUSES + ("defaulted",):
        raise Problem(409, "The plan is closed", f"the plan is {plan['status']}", type_="plan-closed")
    remaining = await _remaining(conn, plan_id)
    open_rows = plan_installments.update().where(plan_installments.c.plan_id == plan_id,
                                                 plan_installments.c.paid_amount < plan_installments.c.amount)
    if cancel:
        await conn.execute(open_rows.values(status="cancelled"))
        await _set_status(conn, plan, "cancelled")
        await _announce(conn, {**plan, "status": "cancelled"}, "cancelled", remaining)
        return {**plan, "status": "cancelled"}
    try:
        last_number = max(i.number for i in await _installments(conn, plan_id))
        lines = schedule(remaining, first_due_date, frequency or plan["frequency"], installments=installments,
                         installment_amount=installment_amount, first_number=last_number + 1)
    except UnworkablePlan as unworkable:
        raise Problem(422, "The installments cannot cover the total", str(unworkable), type_="validation-error",
                      errors=[field_error(unworkable.field, str(unworkable))]) from None
    # What was paid of a partly paid installment stays; the rest moves into the new schedule.
    await conn.execute(open_rows.values(status="cancelled", amount=plan_installments.c.paid_amount))
    await conn.execute(plan_installments.insert(), [
        dict(tenant_id=tenant_id, plan_id=plan_id, number=line.number, due_date=line.due_date, amount=line.amount,
             paid_amount=ZERO, status="scheduled", attempts=0) for line in lines])
    await conn.execute(sa.update(payment_plans).where(payment_plans.c.id == plan_id).values(
        frequency=frequency or plan["frequency"]))
    await _set_status(conn, plan, "active")
    await _announce(conn, {**plan, "status": "active"}, "renegotiated", remaining)
    return {**plan, "status": "active"}


async def plan_view(conn, tenant_id: str, plan_id: UUID) -> dict:
    plan = await _plan(conn, plan_id, tenant_id=tenant_id)
    rows = (await conn.execute(sa.select(plan_installments).where(plan_installments.c.plan_id == plan_id)
                               .order_by(plan_installments.c.number))).all()
    return {**plan, "remaining": await _remaining(conn, plan_id), "schedule": [dict(row._mapping) for row in rows]}


async def _open_plan(conn, tenant_id: str, patient_id: str) -> dict | None:
    row = (await conn.execute(sa.select(payment_plans).where(
        payment_plans.c.tenant_id == tenant_id, payment_plans.c.patient_id == patient_id,
        payment_plans.c.status.in_(OPEN_STATUSES)).with_for_update())).first()
    return dict(row._mapping) if row else None


async def _plan(conn, plan_id: UUID, *, tenant_id: str | None = None, lock: bool = False) -> dict:
    query = sa.select(payment_plans).where(payment_plans.c.id == plan_id)
    if tenant_id is not None:
        query = query.where(payment_plans.c.tenant_id == tenant_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise Problem(404, "No such payment plan", type_="not-found")
    return dict(row._mapping)


async def _installments(conn, plan_id: UUID) -> list[InstallmentState]:
    rows = (await conn.execute(sa.select(plan_installments).where(
        plan_installments.c.plan_id == plan_id, plan_installments.c.status != "cancelled"))).all()
    return [InstallmentState(row.number, row.due_date, row.amount, row.paid_amount) for row in rows]


async def _remaining(conn, plan_id: UUID) -> Decimal:
    return sum((i.unpaid for i in await _installments(conn, plan_id)), ZERO)


async def _set_status(conn, plan: dict, status: str) -> None:
    await conn.execute(sa.update(payment_plans).where(payment_plans.c.id == plan["id"]).values(
        status=status, updated_at=_now()))


async def _announce(conn, plan: dict, change: str, remaining: Decimal) -> None:
    await stage_events(conn, [PaymentPlanChanged(
        tenant_id=plan["tenant_id"], patient_id=plan["patient_id"], plan_id=plan["id"], change=change,
        status=plan["status"], total=plan["total"], remaining=remaining)], source=SOURCE, aggregate_type=AGGREGATE)


def _now() -> datetime:
    return datetime.now(timezone.utc)
