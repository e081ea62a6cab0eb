"""Patient payments, returned payments, refunds and applied credits: each an append-only set of
ledger entries tied to its record (movement_id) and a PatientBalanceChanged event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa

from openrcm_collections.adapters.payment_processor import PaymentProcessor, ProcessorUnavailable
from openrcm_collections.adapters.tables import account_refunds, ledger_entries, patient_payments
from openrcm_collections.domain.allocation import Allocation, OpenBalance, allocate
from openrcm_collections.service_layer.ledger import EntryDraft, lock_account, post_to_account
from openrcm_shared.contracts.collections import PatientBalanceChanged
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.messaging.outbox import stage_events
from openrcm_shared.money import ZERO

SOURCE, AGGREGATE = "/openrcm/collections", "patient_account"
ELECTRONIC = ("card", "ach")  # through the payment processor
RETURNABLE = ("check", "ach", "card")  # NSF check, ACH return, card chargeback


@dataclass(frozen=True)
class PaymentRequest:
    amount: Decimal
    method: str
    reference: str | None
    processor_token: str | None
    allocate_to: list[UUID] | None
    plan_id: UUID | None = None


async def open_balances(conn, tenant_id: str, patient_id: str) -> list[OpenBalance]:
    """What the patient owes per claim (everything posted on it), and since when."""
    rows = (await conn.execute(
        sa.select(ledger_entries.c.claim_id, sa.func.sum(ledger_entries.c.amount), sa.func.min(ledger_entries.c.posted_at))
        .where(ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.patient_id == patient_id,
               ledger_entries.c.claim_id.is_not(None))
        .group_by(ledger_entries.c.claim_id))).all()
    return [OpenBalance(row[0], row[1], row[2]) for row in rows]


async def take_payment(conn, tenant_id: str, patient_id: str, payment: PaymentRequest, *, actor: str | None,
                       processor: PaymentProcessor, processor_key: str) -> dict:
    """Charge the card or ACH token through the processor (idempotent by `processor_key`), then
    record the payment (`record_payment`). The account is not locked while the processor thinks:
    it is locked only by the recording. (The payments API goes through a payment intent instead,
    service_layer.payment_intents, so a crash between the two is recovered; autopay's key names
    the installment and attempt, so its retry finds the same capture.)"""
    authorization_id = capture_id = None
    if payment.method in ELECTRONIC:
        if payment.allocate_to:  # refused before anything is charged
            check_named_claims(payment.allocate_to, await open_balances(conn, tenant_id, patient_id))
        authorization_id, capture_id = await charge(processor, payment, processor_key, tenant_id)
    return await record_payment(conn, tenant_id, patient_id, payment, actor=actor,
                                authorization_id=authorization_id, capture_id=capture_id)


async def record_payment(conn, tenant_id: str, patient_id: str, payment: PaymentRequest, *, actor: str | None,
                         authorization_id: str | None = None, capture_id: str | None = None,
                         payment_id: UUID | None = None) -> dict:
    """Post a payment already received (cash, check, or a card/ACH capture with its processor ids)
    to the claims it names or oldest first; what is left over is a credit. Locks the account."""
    now = _now()
    await lock_account(conn, tenant_id, patient_id, now)
    balances = await open_balances(conn, tenant_id, patient_id)
    check_named_claims(payment.allocate_to, balances)
    payment_id = payment_id or uuid.uuid4()
    allocations = allocate(payment.amount, balances, payment.allocate_to)
    row = dict(id=payment_id, tenant_id=tenant_id, patient_id=patient_id, amount=payment.amount,
               method=payment.method, reference=payment.reference, processor_token=payment.processor_token,
               processor_authorization_id=authorization_id, processor_capture_id=capture_id, status="posted",
               allocations=[_allocation_json(a) for a in allocations], plan_id=payment.plan_id, recorded_by=actor,
               received_at=now, refunded_amount=ZERO)
    await conn.execute(patient_payments.insert().values(**row))
    drafts = [EntryDraft("payment", -a.amount, claim_id=a.claim_id, movement_id=payment_id) for a in allocations]
    await _post(conn, tenant_id, patient_id, drafts, "payment")
    # Imported here: plans charge their autopay installments through take_payment (a cycle at import time).
    from openrcm_collections.service_layer.plans import credit_plan
    credits = await credit_plan(conn, tenant_id, patient_id, payment.amount, payment_id)
    if credits:
        await conn.execute(sa.update(patient_payments).where(patient_payments.c.id == payment_id).values(
            plan_credits=credits))
    return {**row, "plan_credits": credits}


async def return_payment(conn, tenant_id: str, patient_id: str, payment_id: UUID, reason: str) -> dict:
    """The bank sent the payment back (NSF check R01, ACH return, chargeback): its entries are
    reversed by new ones; the balance it paid is owed again, and so are the plan installments it paid."""
    now = _now()
    await lock_account(conn, tenant_id, patient_id, now)
    payment = await _payment(conn, tenant_id, patient_id, payment_id)
    if payment.status == "returned":
        return dict(payment._mapping)
    if payment.method not in RETURNABLE or payment.refunded_amount > ZERO:
        raise Problem(409, "This payment cannot be returned", f"a {payment.method} payment"
                      + (" already refunded in part" if payment.refunded_amount > ZERO else ""),
                      type_="payment-not-returnable")
    drafts = [EntryDraft("payment_returned", Decimal(a["amount"]), claim_id=_uuid(a["claim_id"]), movement_id=payment_id)
              for a in payment.allocations]
    await conn.execute(sa.update(patient_payments).where(patient_payments.c.id == payment_id).values(
        status="returned", returned_reason=reason))
    await _post(conn, tenant_id, patient_id, drafts, "payment_returned")
    from openrcm_collections.service_layer.plans import uncredit_plan  # see take_payment
    await uncredit_plan(conn, payment.plan_credits)
    return {**payment._mapping, "status": "returned", "returned_reason": reason}


async def settle_payment(conn, tenant_id: str, capture_id: str) -> bool:
    """The processor settled the capture (its webhook): the payment is settled (once)."""
    result = await conn.execute(sa.update(patient_payments).where(
        patient_payments.c.tenant_id == tenant_id, patient_payments.c.processor_capture_id == capture_id,
        patient_payments.c.status == "posted").values(status="settled"))
    return result.rowcount > 0


async def refund_credit(conn, tenant_id: str, patient_id: str, amount: Decimal, payment_id: UUID | None, *,
                        actor: str | None, processor: PaymentProcessor, processor_key: str) -> dict:
    """Pay back part or all of the account's credit: to the card/ACH of `payment_id` through the
    processor, else by check. Never more than the credit."""
    now = _now()
    balance = await lock_account(conn, tenant_id, patient_id, now)
    if -balance < amount:
        raise Problem(422, "More than the account's credit", f"the account's credit is {max(-balance, ZERO)}",
                      type_="validation-error", errors=[field_error("/amount", "exceeds the account's credit")])
    refund_id, method, processor_refund_id = uuid.uuid4(), "check", None
    if payment_id is not None:
        payment = await _payment(conn, tenant_id, patient_id, payment_id, pointer="/payment_id")
        if payment.method in ELECTRONIC:
            method = payment.method
            processor_refund_id = await _refund(processor, payment.processor_capture_id, amount, processor_key)
        await conn.execute(sa.update(patient_payments).where(patient_payments.c.id == payment_id).values(
            refunded_amount=patient_payments.c.refunded_amount + amount))
    row = dict(id=refund_id, tenant_id=tenant_id, patient_id=patient_id, payment_id=payment_id, amount=amount,
               method=method, processor_refund_id=processor_refund_id, recorded_by=actor, refunded_at=now)
    await conn.execute(account_refunds.insert().values(**row))
    await _post(conn, tenant_id, patient_id, [EntryDraft("refund", amount, movement_id=refund_id)], "refund")
    return row


async def apply_credit(conn, tenant_id: str, patient_id: str) -> list[Allocation]:
    """Apply unapplied money (payments beyond what was owed when they came) to balances owed since,
    oldest first: the balance does not move, the entries say which claims the money now pays."""
    now = _now()
    await lock_account(conn, tenant_id, patient_id, now)
    unapplied = -((await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(ledger_entries.c.amount), ZERO)).where(
        ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.patient_id == patient_id,
        ledger_entries.c.claim_id.is_(None)))).scalar_one())
    if unapplied <= ZERO:
        return []
    applied = [a for a in allocate(unapplied, await open_balances(conn, tenant_id, patient_id)) if a.claim_id]
    movement = uuid.uuid4()
    drafts = []
    for allocation in applied:
        drafts += [EntryDraft("credit_applied", allocation.amount, movement_id=movement),
                   EntryDraft("credit_applied", -allocation.amount, claim_id=allocation.claim_id, movement_id=movement)]
    if drafts:
        await _post(conn, tenant_id, patient_id, drafts, "credit_applied")
    return applied


async def post_movement(conn, tenant_id: str, patient_id: str, drafts: list[EntryDraft], movement: str,
                        coarse_kind: str) -> Decimal:
    """Post entries on the account and stage the PatientBalanceChanged event in the same transaction."""
    now = _now()
    balance = await post_to_account(conn, tenant_id, patient_id, drafts, source_event_id=uuid.uuid4(), posted_at=now)
    total = sum((draft.amount for draft in drafts), ZERO)
    claim_ids = {draft.claim_id for draft in drafts if draft.claim_id}
    await stage_events(conn, [PatientBalanceChanged(
        tenant_id=tenant_id, patient_id=patient_id, claim_id=claim_ids.pop() if len(claim_ids) == 1 else None,
        entry_kind=coarse_kind, movement=movement, amount=total, balance=balance)],
        source=SOURCE, aggregate_type=AGGREGATE)
    return balance


async def _post(conn, tenant_id: str, patient_id: str, drafts: list[EntryDraft], movement: str) -> Decimal:
    return await post_movement(conn, tenant_id, patient_id, drafts, movement, "payment")


class PaymentDeclined(Problem):
    """The processor declined the card or bank account (402, nothing recorded)."""


async def charge(processor: PaymentProcessor, payment: PaymentRequest, key: str, tenant_id: str) -> tuple[str, str]:
    """Authorize and capture through the processor, each idempotent by `key`; the authorization's
    and capture's ids. PaymentDeclined when declined; 503 when the processor cannot be reached."""
    try:
        # The practice travels as metadata: the processor's settlement webhooks echo it.
        authorized = await processor.authorize(payment.processor_token, payment.amount, f"{key}:authorize",
                                               {"tenant_id": tenant_id})
        if authorized.status != "approved":
            raise PaymentDeclined(402, "Payment declined",
                                  f"the processor declined the payment ({authorized.decline_code})",
                                  type_="payment-declined", errors=[field_error("/processor_token",
                                                                                authorized.decline_code or "declined")])
        captured = await processor.capture(authorized.processor_id, payment.amount, f"{key}:capture")
    except ProcessorUnavailable:
        raise _processor_unavailable() from None
    if captured.status != "approved":
        raise PaymentDeclined(402, "Payment declined", "the processor did not capture the payment",
                              type_="payment-declined")
    return authorized.processor_id, captured.processor_id


async def _refund(processor: PaymentProcessor, capture_id: str, amount: Decimal, key: str) -> str:
    try:
        refunded = await processor.refund(capture_id, amount, f"{key}:refund")
    except ProcessorUnavailable:
        raise _processor_unavailable() from None
    if refunded.status != "approved":
        raise Problem(409, "Refund refused by the processor", refunded.decline_code, type_="refund-refused")
    return refunded.processor_id


def _processor_unavailable() -> Problem:
    # Nothing was recorded; the processor call is idempotent by key, so the same request may be retried.
    return Problem(503, "Payment processor unavailable", "retry the request with the same Idempotency-Key",
                   type_="processor-unavailable", headers={"Retry-After": "2"})


def check_named_claims(named: list[UUID] | None, balances: list[OpenBalance]) -> None:
    known = {balance.claim_id for balance in balances}
    unknown = [field_error(f"/allocate_to/{index}", "no balance on this account for this claim")
               for index, claim_id in enumerate(named or []) if claim_id not in known]
    if unknown:
        raise Problem(422, "The request has invalid fields", type_="validation-error", errors=unknown)


async def _payment(conn, tenant_id: str, patient_id: str, payment_id: UUID, pointer: str | None = None):
    payment = (await conn.execute(sa.select(patient_payments).where(
        patient_payments.c.tenant_id == tenant_id, patient_payments.c.patient_id == patient_id,
        patient_payments.c.id == payment_id).with_for_update())).first()
    if payment is None:
        if pointer:
            raise Problem(422, "The request has invalid fields", type_="validation-error",
                          errors=[field_error(pointer, "no such payment on this account")])
        raise Problem(404, "No such payment on this account", type_="not-found")
    return payment


def _allocation_json(allocation: Allocation) -> dict:
    return {"claim_id": str(allocation.claim_id) if allocation.claim_id else None, "amount": str(allocation.amount)}


def _uuid(text: str | None) -> UUID | None:
    return UUID(text) if text else None


def _now() -> datetime:
    return datetime.now(timezone.utc)
