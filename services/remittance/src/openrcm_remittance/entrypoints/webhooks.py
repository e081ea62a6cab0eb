"""835 ERAs from the clearinghouse by webhook (Standard Webhooks, as for acknowledgements).

1. verify the signature and timestamp (401 otherwise; nothing stored);
2. store the raw body with its SHA-256 under its webhook-id and commit — the same webhook-id again
   answers 2xx with no second effect, and the same bytes under a new id post nothing twice;
3. post it: malformed X12 is answered 400 (kept for inspection, as `rejected`); a posting that
   fails for any other reason is left stored and picked up by the background worker. A retry of a
   delivery whose posting did not finish (the database went away: 503) posts it, rather than being
   answered as done while the file waits.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openrcm_remittance.entrypoints.api import file_view
from openrcm_remittance.service_layer.clearinghouse_eras import take_era
from openrcm_shared.http.openapi_docs import problem_doc
from openrcm_shared.http.problems import Problem
from openrcm_shared.http.webhooks import WebhookVerificationError, configured_secrets, verify

router = APIRouter(prefix="/v1/webhooks", tags=["clearinghouse webhooks"])


@router.post("/clearinghouse", status_code=200,
             responses={400: problem_doc(400, "Not X12 we can read; kept for inspection"),
                        401: problem_doc(401, "Bad signature or stale timestamp")})
async def clearinghouse_webhook(request: Request) -> JSONResponse:
    body = await request.body()  # the signature covers the whole body
    try:
        delivery = verify(configured_secrets(), request.headers, body)
    except WebhookVerificationError as exc:
        raise Problem(401, "Webhook not authenticated", str(exc), type_="webhook-unauthenticated") from None
    runtime = request.app.state.runtime
    stored = await take_era(runtime, body, delivery.webhook_id, source="webhook",
                            content_type=request.headers.get("content-type"))
    view = await file_view(runtime.system_engine, stored.id)
    if view.status == "rejected":
        raise Problem(400, "Malformed 835", f"{view.error['message']}. The raw body is kept for inspection.",
                      type_="malformed-webhook", webhook_id=delivery.webhook_id, file_id=str(stored.id))
    # A redelivered webhook-id answers with the first delivery's file, marked as a duplicate.
    return JSONResponse({"webhook_id": delivery.webhook_id, **view.model_dump(mode="json"),
                         "duplicate": stored.status == "duplicate"})
