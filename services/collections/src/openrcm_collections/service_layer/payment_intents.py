"""Card and ACH payments in two steps, so no account is locked while the processor thinks and no
captured money is lost to a crash:

1. `authorize_payment`: the intent is written (its own short transaction, before any call), then the
   processor authorizes and captures (outside any transaction; idempotent by the intent's key), and
   the intent is marked `captured` with the processor's ids (or `declined`).
2. `record_intent`: in the transaction that stores the request's Idempotency-Key, the account is
   locked and the payment posted (payments.record_payment); the intent is `recorded`.

A crash (or a lost connection) between the two leaves the intent `pending` or `captured`.
`reconcile_intents` (the scheduler, per practice, after COLLECTIONS_PAYMENT_INTENT_GRACE_SECONDS)
asks the processor what it did under the intent's key: a capture is recorded as the payment (the
patient was charged), an authorization never captured is voided, and an intent the processor never
heard of is `abandoned`. A client retrying with the same Idempotency-Key meanwhile finds the same
intent: the processor answers as before (no second charge) and the payment is recorded once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_collections.adapters.payment_processor import PaymentProcessor
from openrcm_collections.adapters.tables import patient_payments, payment_intents
from openrcm_collections.service_layer.payments import (
    PaymentDeclined, PaymentRequest, charge, check_named_claims, open_balances, record_payment,
)
from openrcm_shared.db import bind_practice
from openrcm_shared.http.problems import Problem, field_error

log = logging.getLogger(__name__)
OPEN = ("pending", "captured")  # the processor may have taken money that is not on the account yet
_SAME_REQUEST = ("patient_id", "amount", "method", "processor_token")


async def authorize_payment(engine, tenant_id: str, patient_id: str, payment: PaymentRequest, *,
                            actor: str | None, processor: PaymentProcessor, processor_key: str) -> UUID:
    """Step 1 (see the module): the intent's id once the processor has captured the payment.
    Raises PaymentDeclined (402), 503 when the processor cannot be reached (the intent stays
    pending: retry with the same key), 409 when this key's earlier attempt was voided or abandoned."""
    intent = await _open_intent(engine, tenant_id, patient_id, payment, actor, processor_key)
    if intent.status in ("captured", "recorded"):
        return intent.id
    if intent.status == "declined":
        raise PaymentDeclined(402, "Payment declined", f"the processor declined the payment ({intent.decline_code})",
                              type_="payment-declined",
                              errors=[field_error("/processor_token", intent.decline_code or "declined")])
    if intent.status != "pending":
        raise Problem(409, "This payment attempt was never completed", "it was settled as "
                      f"{intent.status} with nothing charged; send the payment again with a new Idempotency-Key",
                      type_="payment-attempt-closed")
    try:
        authorization_id, capture_id = await charge(processor, payment, processor_key, tenant_id)
    except PaymentDeclined as declined:
        await _update(engine, tenant_id, intent.id, status="declined", decline_code=_decline_code(declined))
        raise
    await _update(engine, tenant_id, intent.id, status="captured", processor_authorization_id=authorization_id,
                  processor_capture_id=capture_id)
    return intent.id


async def record_intent(conn, tenant_id: str, intent_id: UUID) -> dict:
    """Step 2: post the captured payment on the account, once (a second call returns the payment)."""
    intent = (await conn.execute(sa.select(payment_intents).where(
        payment_intents.c.tenant_id == tenant_id, payment_intents.c.id == intent_id).with_for_update())).one()
    if intent.status == "recorded":
        return dict((await conn.execute(sa.select(patient_payments).where(
            patient_payments.c.id == intent.payment_id))).one()._mapping)
    if intent.status != "captured":
        raise Problem(409, "This payment attempt was never completed", f"it is {intent.status}",
                      type_="payment-attempt-closed")
    payment = PaymentRequest(intent.amount, intent.method, intent.reference, intent.processor_token,
                             [UUID(claim) for claim in intent.allocate_to] if intent.allocate_to else None,
                             plan_id=intent.plan_id)
    # Named claims paid off meanwhile: the money is the patient's all the same, oldest first then.
    named = {balance.claim_id for balance in await open_balances(conn, tenant_id, intent.patient_id)}
    if payment.allocate_to and not set(payment.allocate_to) <= named:
        payment = PaymentRequest(payment.amount, payment.method, payment.reference, payment.processor_token, None,
                                 plan_id=payment.plan_id)
    row = await record_payment(conn, tenant_id, intent.patient_id, payment, actor=intent.recorded_by,
                               authorization_id=intent.processor_authorization_id,
                               capture_id=intent.processor_capture_id)
    await conn.execute(sa.update(payment_intents).where(payment_intents.c.id == intent_id).values(
        status="recorded", payment_id=row["id"], updated_at=_now()))
    return row


async def reconcile_intents(conn, tenant_id: str, processor: PaymentProcessor, *, older_than: datetime) -> dict:
    """Settle the practice's intents left open since before `older_than` (see the module); returns
    how many ended each way. The transaction is the practice's (bind_practice)."""
    stale = (await conn.execute(sa.select(payment_intents.c.id, payment_intents.c.status,
                                          payment_intents.c.processor_key).where(
        payment_intents.c.tenant_id == tenant_id, payment_intents.c.status.in_(OPEN),
        payment_intents.c.updated_at < older_than).order_by(payment_intents.c.created_at)
        .with_for_update(skip_locked=True))).all()
    outcomes = {"recorded": 0, "voided": 0, "abandoned": 0}
    for intent in stale:
        outcome = await _settle(conn, tenant_id, intent, processor)
        outcomes[outcome] += 1
        log.info("payment intent reconciled", extra={"intent_id": str(intent.id), "outcome": outcome})
    return outcomes


async def practices_with_open_intents(system_engine, older_than: datetime) -> set[str]:
    """The practices with an intent left open since before `older_than` (the scheduler's system
    role may read only the intents' practice, status and time: no patient, amount or token)."""
    async with system_engine.connect() as conn:
        return set((await conn.execute(sa.select(payment_intents.c.tenant_id).distinct().where(
            payment_intents.c.status.in_(OPEN), payment_intents.c.updated_at < older_than))).scalars())


async def _settle(conn, tenant_id: str, intent, processor: PaymentProcessor) -> str:
    key = intent.processor_key
    captured = await processor.answered("capture", f"{key}:capture")
    authorized = await processor.answered("authorize", f"{key}:authorize")
    if intent.status == "pending" and captured is not None and captured.status == "approved":
        await conn.execute(sa.update(payment_intents).where(payment_intents.c.id == intent.id).values(
            status="captured", processor_capture_id=captured.processor_id,
            processor_authorization_id=authorized.processor_id if authorized else None))
    elif intent.status == "pending":
        if authorized is not None and authorized.status == "approved":
            await processor.void(authorized.processor_id, f"{key}:void")
            await _set(conn, intent.id, status="voided", processor_authorization_id=authorized.processor_id)
            return "voided"
        await _set(conn, intent.id, status="abandoned")
        return "abandoned"
    async with conn.begin_nested():
        await record_intent(conn, tenant_id, intent.id)
    return "recorded"


async def _open_intent(engine, tenant_id: str, patient_id: str, payment: PaymentRequest, actor: str | None,
                       processor_key: str):
    """The intent of this key: written now (named claims checked first), or the one written before."""
    now = _now()
    async with engine.begin() as conn:
        await bind_practice(conn, tenant_id)
        check_named_claims(payment.allocate_to, await open_balances(conn, tenant_id, patient_id))
        await conn.execute(pg_insert(payment_intents).values(
            id=uuid.uuid4(), tenant_id=tenant_id, patient_id=patient_id, processor_key=processor_key,
            amount=payment.amount, method=payment.method, processor_token=payment.processor_token,
            reference=payment.reference, allocate_to=[str(c) for c in payment.allocate_to] if payment.allocate_to
            else None, plan_id=payment.plan_id, recorded_by=actor, status="pending", created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["tenant_id", "processor_key"]))
        intent = (await conn.execute(sa.select(payment_intents).where(
            payment_intents.c.tenant_id == tenant_id, payment_intents.c.processor_key == processor_key))).one()
    asked = {"patient_id": patient_id, "amount": payment.amount, "method": payment.method,
             "processor_token": payment.processor_token}
    if any(getattr(intent, name) != asked[name] for name in _SAME_REQUEST):
        raise Problem(422, "Idempotency-Key reused", "This key was used with a different request body.",
                      type_="idempotency-key-reused",
                      errors=[field_error("/header/Idempotency-Key", "reused with another body")])
    return intent


async def _update(engine, tenant_id: str, intent_id: UUID, **values) -> None:
    async with engine.begin() as conn:
        await bind_practice(conn, tenant_id)
        await _set(conn, intent_id, **values)


async def _set(conn, intent_id: UUID, **values) -> None:
    await conn.execute(sa.update(payment_intents).where(payment_intents.c.id == intent_id).values(
        **values, updated_at=_now()))


def _decline_code(declined: Problem) -> str | None:
    return declined.errors[0]["detail"] if declined.errors else None


def grace_cutoff(now: datetime, grace_seconds: float) -> datetime:
    return now - timedelta(seconds=grace_seconds)


def _now() -> datetime:
    return datetime.now(timezone.utc)
