"""Patient payments, returned payments, refunds, applied credits; the processor's settlement webhook."""

from __future__ import annotations

import json
import uuid
from uuid import UUID

import sqlalchemy as sa
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from openrcm_collections.adapters.tables import patient_payments
from openrcm_collections.domain.card_numbers import contains_card_number
from openrcm_collections.entrypoints.schemas import (
    AllocationOut, CreditApplicationOut, PaymentIn, PaymentOut, PaymentReturnIn, RefundIn, RefundOut,
)
from openrcm_collections.service_layer.payment_intents import authorize_payment, record_intent
from openrcm_collections.service_layer.payments import (
    ELECTRONIC, PaymentRequest, apply_credit, record_payment, refund_credit, return_payment, settle_payment,
)
from openrcm_collections.settings import CollectionsSettings
from openrcm_shared.audit import audited
from openrcm_shared.audit.recording import record_change
from openrcm_shared.db import bind_practice
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.idempotency import IDEMPOTENCY_HEADER, idempotent_create, validate_key
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.http.webhooks import WebhookVerificationError, verify
from openrcm_shared.security.practice import CollectionsWork, PaymentsWrite
from openrcm_shared.security.authorization import caller_requiring
from openrcm_shared.security.scopes import Scope

router = APIRouter(prefix="/v1", tags=["payments"])
webhook_router = APIRouter(prefix="/v1/webhooks", tags=["payment processor webhooks"])
PaymentsCaller = caller_requiring(Scope.PAYMENTS_WRITE)

_CARD_NUMBER_REFUSED = {422: {"description": "Invalid fields, a card number in the body (never echoed), a claim "
                                             "with no balance on the account, or Idempotency-Key reused"},
                        402: {"description": "The processor declined the card or bank account"},
                        409: {"description": "Same Idempotency-Key in flight"},
                        503: {"description": "The processor could not be reached: retry with the same Idempotency-Key"}}


async def refuse_card_numbers(request: Request) -> None:
    """PCI DSS: a body that looks like it carries a card number is refused before anything reads it,
    and the problem never repeats it."""
    if contains_card_number(await request.body()):
        raise Problem(422, "A card number was sent", "Send the payment processor's token (processor_token), never "
                      "the card number.", type_="card-number-refused",
                      errors=[field_error("", "looks like a card number (refused, not stored)")])


def processor_of(request: Request):
    return request.app.state.payment_processor


@router.post("/accounts/{patient_id}/payments", status_code=201, response_model=PaymentOut,
             responses=_CARD_NUMBER_REFUSED)
@audited("create", "payment", resource_id="id", patient_id="patient_id")
async def post_payment(patient_id: str, body: PaymentIn, request: Request, caller: PaymentsCaller,
                       idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER)) -> Response:
    """Take a payment (card and ACH through the processor; cash and check as received). It pays the
    claims named in `allocate_to`, else the oldest balances first; money beyond what is owed stays
    on the account as a credit (refund it or apply it later): nothing is refused for being too much."""
    await refuse_card_numbers(request)
    if body.method in ("card", "ach") and body.processor_token is None:
        raise Problem(422, "The request has invalid fields", type_="validation-error",
                      errors=[field_error("/processor_token", f"required for a {body.method} payment")])
    if body.method in ("cash", "check") and body.processor_token is not None:
        raise Problem(422, "The request has invalid fields", type_="validation-error",
                      errors=[field_error("/processor_token", f"not taken for a {body.method} payment")])
    request_ = PaymentRequest(body.amount, body.method, body.reference, body.processor_token, body.allocate_to)
    # The processor's idempotency key: the client's key makes a retried request safe end to end.
    processor_key = f"{caller.tenant_id}:{validate_key(idempotency_key) or uuid.uuid4()}"
    if body.method in ELECTRONIC:
        # The processor is called before the recording transaction, with no account locked (payment_intents).
        intent_id = await authorize_payment(request.app.state.runtime.engine, caller.tenant_id, patient_id, request_,
                                            actor=caller.actor, processor=processor_of(request),
                                            processor_key=processor_key)

        async def create(conn) -> PaymentOut:
            return _payment_out(await record_intent(conn, caller.tenant_id, intent_id))
    else:
        async def create(conn) -> PaymentOut:
            return _payment_out(await record_payment(conn, caller.tenant_id, patient_id, request_,
                                                     actor=caller.actor))
    return await idempotent_create(request, tenant_id=caller.tenant_id, idempotency_key=idempotency_key,
                                   create=create, response_model=PaymentOut,
                                   location=lambda p: f"/v1/accounts/{patient_id}/payments/{p.id}")


@router.get("/accounts/{patient_id}/payments", response_model=Page[PaymentOut])
@audited("list", "payment", patient_id="patient_id")
async def list_payments(patient_id: str, request: Request, tenant_id: CollectionsWork, cursor: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[PaymentOut]:
    """The account's payments, newest first."""
    query = sa.select(patient_payments).where(patient_payments.c.tenant_id == tenant_id,
                                              patient_payments.c.patient_id == patient_id)
    async with request.app.state.runtime.engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[patient_payments.c.received_at,
                                                                    patient_payments.c.id],
                                             cursor=cursor, limit=limit)
    return Page[PaymentOut](items=[_payment_out(row._mapping) for row in rows], next_cursor=next_cursor)


@router.post("/accounts/{patient_id}/payments/{payment_id}/return", response_model=PaymentOut,
             responses={404: {"description": "No such payment on this account"},
                        409: {"description": "A cash payment, or one already refunded in part, cannot be returned"}})
@audited("update", "payment", resource_id="id", patient_id="patient_id")
async def post_payment_return(patient_id: str, payment_id: UUID, body: PaymentReturnIn, request: Request,
                              tenant_id: PaymentsWrite) -> PaymentOut:
    """The bank returned the payment (an NSF check, an ACH return, a chargeback): reversed by new entries."""
    async with request.app.state.runtime.engine.begin() as conn:
        payment = _payment_out(await return_payment(conn, tenant_id, patient_id, payment_id, body.reason))
        await record_change(conn, resource=payment)
    request.app.state.runtime.events_staged()
    return payment


@router.post("/accounts/{patient_id}/refunds", status_code=201, response_model=RefundOut,
             responses={422: {"description": "More than the account's credit, or no such payment"},
                        409: {"description": "The processor refused the refund"},
                        503: {"description": "The processor could not be reached: retry with the same Idempotency-Key"}})
@audited("create", "refund", resource_id="id", patient_id="patient_id")
async def post_refund(patient_id: str, body: RefundIn, request: Request, caller: PaymentsCaller,
                      idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER)) -> Response:
    """Pay back the account's credit (to the card or bank account of a payment, or by check)."""
    processor_key = f"{caller.tenant_id}:{idempotency_key or uuid.uuid4()}"

    async def create(conn) -> RefundOut:
        row = await refund_credit(conn, caller.tenant_id, patient_id, body.amount, body.payment_id,
                                  actor=caller.actor, processor=processor_of(request), processor_key=processor_key)
        return RefundOut(**{name: row[name] for name in RefundOut.model_fields})
    return await idempotent_create(request, tenant_id=caller.tenant_id, idempotency_key=idempotency_key,
                                   create=create, response_model=RefundOut,
                                   location=lambda r: f"/v1/accounts/{patient_id}")


@router.post("/accounts/{patient_id}/credits/apply", response_model=CreditApplicationOut)
@audited("update", "account", resource_id="patient_id", patient_id="patient_id")
async def post_apply_credit(patient_id: str, request: Request, tenant_id: PaymentsWrite) -> CreditApplicationOut:
    """Apply the account's unapplied credit to what it owes since, oldest first."""
    async with request.app.state.runtime.engine.begin() as conn:
        applied = await apply_credit(conn, tenant_id, patient_id)
        out = CreditApplicationOut(patient_id=patient_id, applied=[AllocationOut(claim_id=a.claim_id, amount=a.amount)
                                                                   for a in applied])
        await record_change(conn, resource=out)
    request.app.state.runtime.events_staged()
    return out


@webhook_router.post("/payment-processor", responses={401: {"description": "Signature missing, wrong or stale"},
                                                      400: {"description": "Not a processor event"}})
async def payment_processor_webhook(request: Request) -> dict:
    """The processor's settlement events (Standard Webhooks): `payment.settled` settles the payment,
    `payment.returned` (ACH return, chargeback) reverses it. Applying one twice changes nothing."""
    raw = await request.body()
    try:
        verify(CollectionsSettings().webhook_secrets, request.headers, raw)
    except WebhookVerificationError as exc:
        raise Problem(401, "Webhook not authenticated", str(exc), type_="webhook-unauthenticated") from None
    try:
        event = json.loads(raw)
        kind, data = event["type"], event["data"]
        tenant_id, capture_id = str(data["tenant_id"]), str(data["capture_id"])
    except (ValueError, KeyError, TypeError):
        raise Problem(400, "Not a processor event", type_="malformed-webhook") from None
    async with request.app.state.runtime.engine.begin() as conn:
        await bind_practice(conn, tenant_id)  # the practice the payment was authorized for (processor metadata)
        if kind == "payment.settled":
            changed = await settle_payment(conn, tenant_id, capture_id)
        elif kind == "payment.returned":
            changed = await _return_by_capture(conn, tenant_id, capture_id, str(data.get("reason") or "returned"))
        else:
            changed = False
    request.app.state.runtime.events_staged()
    return {"webhook_id": request.headers.get("webhook-id"), "applied": changed}


async def _return_by_capture(conn, tenant_id: str, capture_id: str, reason: str) -> bool:
    payment = (await conn.execute(sa.select(patient_payments.c.id, patient_payments.c.patient_id,
                                            patient_payments.c.status).where(
        patient_payments.c.tenant_id == tenant_id, patient_payments.c.processor_capture_id == capture_id))).first()
    if payment is None or payment.status == "returned":
        return False
    await return_payment(conn, tenant_id, payment.patient_id, payment.id, reason)
    return True


def _payment_out(row) -> PaymentOut:
    mapping = dict(row)
    mapping["allocations"] = [AllocationOut(claim_id=a["claim_id"], amount=a["amount"]) for a in mapping["allocations"]]
    return PaymentOut(**{name: mapping.get(name) for name in PaymentOut.model_fields})
