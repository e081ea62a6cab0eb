"""Webhooks from the clearinghouse: 999 and 277CA acknowledgements as raw X12.

Order of work, so nothing accepted is lost and nothing is applied twice:
1. verify the Standard Webhooks signature and timestamp (401 otherwise; nothing stored);
2. store the raw body under its webhook-id and commit — a repeated webhook-id stops here with
   a 2xx and no second effect;
3. apply it; a body that is not X12 (or not a document we take) is kept as `failed` with the
   reason and answered 400, so it can be inspected and re-processed after a fix.
"""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_claims.adapters.tables import clearinghouse_deliveries
from openrcm_claims.service_layer.acknowledgements import MalformedDelivery, apply_delivery
from openrcm_shared.http.openapi_docs import problem_doc
from openrcm_shared.http.problems import Problem
from openrcm_shared.http.webhooks import WebhookVerificationError, configured_secrets, verify

router = APIRouter(prefix="/v1/webhooks", tags=["clearinghouse webhooks"])


@router.post("/clearinghouse", status_code=200,
             responses={400: problem_doc(400, "Not an acknowledgement we can read; kept for inspection"),
                        401: problem_doc(401, "Bad signature or stale timestamp")})
async def clearinghouse_webhook(request: Request) -> JSONResponse:
    body = await request.body()
    try:
        delivery = verify(configured_secrets(), request.headers, body)
    except WebhookVerificationError as exc:
        raise Problem(401, "Webhook not authenticated", str(exc), type_="webhook-unauthenticated") from None
    engine = request.app.state.runtime.engine
    async with engine.begin() as conn:
        stored = await conn.execute(pg_insert(clearinghouse_deliveries).values(
            webhook_id=delivery.webhook_id, received_at=datetime.now(timezone.utc),
            content_type=request.headers.get("content-type"), body=body, status="received",
        ).on_conflict_do_nothing().returning(clearinghouse_deliveries.c.webhook_id))
        if stored.first() is None:
            return JSONResponse({"webhook_id": delivery.webhook_id, "duplicate": True})
    try:
        outcome = await apply_delivery(engine, delivery.webhook_id)
    except MalformedDelivery as exc:
        raise Problem(400, "Malformed acknowledgement", f"{exc} The raw body is kept for inspection.",
                      type_="malformed-webhook", webhook_id=delivery.webhook_id) from None
    request.app.state.runtime.events_staged()
    return JSONResponse({"webhook_id": delivery.webhook_id, "duplicate": False, **outcome})
