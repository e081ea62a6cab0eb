"""Webhooks from the clearinghouse: 999 and 277CA acknowledgements as raw X12.

Order of work, so nothing accepted is lost and nothing is applied twice:
1. verify the Standard Webhooks signature and timestamp (401 otherwise; nothing stored);
2. store the raw body under its webhook-id and commit;
3. apply it and mark it processed in one transaction; a body that is not X12 (or not a document
   we take) is kept as `failed` with the reason and answered 400, so it can be inspected and
   re-processed after a fix. If applying fails otherwise (a deadlock, a timeout, a restart), the
   delivery stays `received`: the answer is a 5xx, so the sender retries, and the retry applies it
   (a repeated webhook-id is answered "duplicate" only once the delivery was applied or refused);
   the claims worker also applies deliveries left `received` (`apply_pending_deliveries`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openrcm_claims.service_layer.acknowledgements import MalformedDelivery, take_delivery
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
    try:
        outcome = await take_delivery(request.app.state.runtime, delivery.webhook_id, body,
                                      content_type=request.headers.get("content-type"))
    except MalformedDelivery as exc:
        raise Problem(400, "Malformed acknowledgement", f"{exc} The raw body is kept for inspection.",
                      type_="malformed-webhook", webhook_id=delivery.webhook_id) from None
    if "already" in outcome:
        return JSONResponse({"webhook_id": delivery.webhook_id, "duplicate": True})
    return JSONResponse({"webhook_id": delivery.webhook_id, "duplicate": False, **outcome})
