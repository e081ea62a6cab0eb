"""The clearinghouse simulator's HTTP API.

    POST /v1/batches            an 837 file (Content-Type: application/edi-x12, Idempotency-Key) -> 202
    GET  /v1/batches/{id}       status, the 999s and the 277CA, claim outcomes, delivery states
    POST /v1/batches/{id}/redeliver   queue again the documents not yet delivered
    POST /v1/claim-status       a 276 claim status request (application/edi-x12) -> 200 with the 277
    GET  /v1/rules, PUT /v1/rules     the rejection rules (PUT replaces them; for tests)
    GET  /v1/adjudication-rules, PUT /v1/adjudication-rules
                                the simulated payer's adjudication rules (PUT replaces them; for tests)
    GET  /v1/remittances        the 835s produced (optionally ?batch_id=), with their X12 and delivery
    POST /v1/appeals            an appeal of a decided claim (Idempotency-Key: the appeal id) -> 202
    GET  /v1/appeals/{reference}   its decision once made (overturned: a paying 835 follows)
    POST /v1/eligibility        a 270 answered with a 271 in the response (eligibility.py: member-id rules)
    GET  /v1/eligibility/stats  inquiries answered per payer and the most in progress at once
    GET  /v1/mailbox            every document produced (999, 277CA, 835), oldest first, from a cursor
                                (?kind=&cursor=&limit=): what receivers take when a webhook never came
    GET  /v1/mailbox/{id}       one document's X12, by its webhook id
    GET  /v1/delivery-faults, PUT /v1/delivery-faults
                                kinds of document whose webhooks are given up on at once (for tests)
    /livez, /readyz

Run: python -m uvicorn openrcm_clearinghouse_sim.main:app --port 8010
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import APIRouter, Body, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter, ValidationError

from openrcm_shared.http.idempotency import IDEMPOTENCY_HEADER, validate_key
from openrcm_shared.http.problems import Problem, field_error, install_problem_handlers
from openrcm_clearinghouse_sim.acknowledgements import ClearinghouseIdentity, ControlNumbers
from openrcm_clearinghouse_sim.adjudication_rules import (
    ADJUDICATION_RULE_LIST, AdjudicationRule, load_adjudication_rules,
)
from openrcm_clearinghouse_sim.appeals import AppealIn
from openrcm_clearinghouse_sim.batches import Clearinghouse, IdempotencyConflict
from openrcm_clearinghouse_sim.claim_status import answer_276
from openrcm_clearinghouse_sim.delivery import WebhookSender
from openrcm_clearinghouse_sim.eligibility import EligibilityDesk, router as eligibility_router
from openrcm_clearinghouse_sim.rules import RULE_LIST, RejectionRule, load_rules
from openrcm_clearinghouse_sim.settings import Settings
from openrcm_clearinghouse_sim.x12_requests import X12_MEDIA_TYPE, bounded_body, require_x12

MAX_FILE_BYTES = 64 * 1024 * 1024

router = APIRouter()


def create_app(settings: Settings | None = None, *, http_client: httpx.AsyncClient | None = None) -> FastAPI:
    """The app; `settings` default to the environment. Workers start with the lifespan."""
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sender = WebhookSender(settings.webhook_url, settings.webhook_secrets, settings.delivery, client=http_client,
                               remittance_url=settings.remittance_webhook_url)
        clearinghouse = Clearinghouse(
            identity=ClearinghouseIdentity(settings.clearinghouse_name, ControlNumbers()), sender=sender,
            rules=load_rules(settings.rules_file),
            adjudication_rules=load_adjudication_rules(settings.adjudication_rules_file),
            adjudication_delay_seconds=settings.adjudication_delay_seconds,
            front_end_validator=settings.front_end_validator)
        tasks = {"validation": asyncio.create_task(clearinghouse.run_validation(), name="validation"),
                 "delivery": asyncio.create_task(sender.run(), name="delivery")}
        app.state.clearinghouse, app.state.tasks = clearinghouse, tasks
        app.state.eligibility_desk = EligibilityDesk(settings.eligibility_latency_seconds,
                                                     settings.eligibility_slow_seconds)
        try:
            yield
        finally:
            await clearinghouse.aclose()
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            await sender.aclose()

    app = FastAPI(title="OpenRCM clearinghouse simulator", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(router)
    app.include_router(eligibility_router)
    return app


def _clearinghouse(request: Request) -> Clearinghouse:
    return request.app.state.clearinghouse


@router.post("/v1/claim-status", tags=["claim status"],
             openapi_extra={"requestBody": {"content": {X12_MEDIA_TYPE: {"schema": {"type": "string"}}},
                                            "required": True}},
             responses={200: {"description": "The 277 answering the 276", "content": {X12_MEDIA_TYPE: {}}},
                        400: {"description": "Not a 276 interchange this simulator can read"},
                        415: {"description": "Content-Type is not application/edi-x12"}})
async def claim_status(request: Request) -> Response:
    """Answer a 276 at once with a 277 (real time): where the simulated payer has each claim."""
    require_x12(request)
    body = await bounded_body(request, MAX_FILE_BYTES)
    try:
        answer = answer_276(_clearinghouse(request), body)
    except ValueError as refused:
        raise Problem(400, "Not a readable 276", str(refused)[:300], type_="not-a-276",
                      errors=[field_error("", "not a 276 interchange")]) from None
    return Response(answer, media_type=X12_MEDIA_TYPE)


@router.post("/v1/batches", status_code=202, tags=["batches"],
             openapi_extra={"requestBody": {"content": {X12_MEDIA_TYPE: {"schema": {"type": "string"}}},
                                            "required": True}},
             responses={400: {"description": "Not an X12 interchange, or no/invalid Idempotency-Key"},
                        415: {"description": "Content-Type is not application/edi-x12"},
                        422: {"description": "Idempotency-Key reused with another file"}})
async def submit_batch(request: Request,
                       idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER)] = None) -> JSONResponse:
    """Store an 837 file and acknowledge it later (999, then 277CA) by webhook."""
    require_x12(request)
    if idempotency_key is None:
        raise Problem(400, "Idempotency-Key required", "Every batch carries an Idempotency-Key.",
                      type_="idempotency-key-required", errors=[field_error("/header/Idempotency-Key", "missing")])
    validate_key(idempotency_key)
    body = await bounded_body(request, MAX_FILE_BYTES)
    if not body.lstrip().startswith(b"ISA"):
        raise Problem(400, "Not an X12 interchange", "The file must start with an ISA segment.",
                      type_="not-x12", errors=[field_error("", "no ISA segment")])
    try:
        batch, created = _clearinghouse(request).receive(idempotency_key, body)
    except IdempotencyConflict:
        raise Problem(422, "Idempotency-Key reused", "This key was used with a different file.",
                      type_="idempotency-key-reused",
                      errors=[field_error("/header/Idempotency-Key", "reused with another body")]) from None
    headers = {"Location": f"/v1/batches/{batch.batch_id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(batch.receipt(), status_code=202, headers=headers)


@router.get("/v1/batches/{batch_id}", tags=["batches"])
async def get_batch(batch_id: str, request: Request) -> dict:
    batch = _clearinghouse(request).batches.get(batch_id)
    if batch is None:
        raise Problem(404, "Batch not found", type_="batch-not-found")
    return batch.view()


@router.post("/v1/batches/{batch_id}/redeliver", status_code=202, tags=["batches"])
async def redeliver_batch(batch_id: str, request: Request) -> dict:
    clearinghouse = _clearinghouse(request)
    batch = clearinghouse.batches.get(batch_id)
    if batch is None:
        raise Problem(404, "Batch not found", type_="batch-not-found")
    return {"requeued": [document.webhook_id for document in clearinghouse.redeliver(batch)]}


@router.get("/v1/rules", tags=["rules"], response_model_exclude_none=True)
async def get_rules(request: Request) -> list[RejectionRule]:
    return _clearinghouse(request).rules


@router.put("/v1/rules", tags=["rules"], response_model_exclude_none=True)
async def replace_rules(request: Request, rules: Annotated[list, Body()]) -> list[RejectionRule]:
    """Replace every rejection rule; batches validated from now on use the new ones."""
    parsed = _validated(RULE_LIST, rules, "Invalid rules")
    _clearinghouse(request).rules = parsed
    return parsed


@router.get("/v1/adjudication-rules", tags=["adjudication"], response_model_exclude_none=True)
async def get_adjudication_rules(request: Request) -> list[AdjudicationRule]:
    return _clearinghouse(request).adjudication_rules


@router.put("/v1/adjudication-rules", tags=["adjudication"], response_model_exclude_none=True)
async def replace_adjudication_rules(request: Request, rules: Annotated[list, Body()]) -> list[AdjudicationRule]:
    """Replace every adjudication rule; claims adjudicated from now on (after their delay) use the new ones."""
    parsed = _validated(ADJUDICATION_RULE_LIST, rules, "Invalid adjudication rules")
    _clearinghouse(request).adjudication_rules = parsed
    return parsed


@router.get("/v1/remittances", tags=["adjudication"])
async def list_remittances(request: Request, batch_id: str | None = None) -> list[dict]:
    """Every 835 produced, oldest first: its claims, PLBs, payment, X12 text and delivery status."""
    return [record.view() for record in _clearinghouse(request).remittances
            if batch_id is None or record.batch_id == batch_id]


MAILBOX_KINDS = ("999", "277CA", "835")


@router.get("/v1/mailbox", tags=["mailbox"])
async def list_mailbox(request: Request, kind: Annotated[list[str] | None, Query()] = None,
                       cursor: Annotated[int, Query(ge=0)] = 0,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> dict:
    """Documents from `cursor` on, oldest first (of the `kind`s named, else all); each carries the
    cursor that continues the listing after it. Nothing is removed by reading: a receiver that lost
    its place lists from 0 again."""
    unknown = [value for value in kind or () if value not in MAILBOX_KINDS]
    if unknown:
        raise Problem(422, "Unknown document kind", f"Kinds are {', '.join(MAILBOX_KINDS)}.",
                      type_="validation-error", errors=[field_error("/query/kind", f"{unknown[0]!r} is not a kind")])
    page = _clearinghouse(request).mailbox_page(set(kind or ()), cursor, limit)
    return {"documents": [{"id": document.webhook_id, "kind": document.kind, "cursor": after,
                           "created_at": document.created_at.isoformat(), "delivery": document.status}
                          for after, document in page]}


@router.get("/v1/mailbox/{document_id}", tags=["mailbox"],
            responses={200: {"content": {X12_MEDIA_TYPE: {"schema": {"type": "string"}}}},
                       404: {"description": "No such document"}})
async def get_mailbox_document(document_id: str, request: Request) -> Response:
    document = _clearinghouse(request).mailbox_document(document_id)
    if document is None:
        raise Problem(404, "Document not found", type_="document-not-found")
    return Response(document.body, media_type=X12_MEDIA_TYPE)


@router.get("/v1/delivery-faults", tags=["mailbox"])
async def get_delivery_faults(request: Request) -> dict:
    return {"drop_kinds": sorted(_clearinghouse(request).sender.drop_kinds)}


@router.put("/v1/delivery-faults", tags=["mailbox"])
async def replace_delivery_faults(request: Request, faults: Annotated[dict, Body()]) -> dict:
    """`{"drop_kinds": ["835"]}`: webhooks of those kinds are given up on at once from now on (the
    documents stay in the mailbox); `[]` delivers everything again."""
    kinds = faults.get("drop_kinds", [])
    if not isinstance(kinds, list) or any(value not in MAILBOX_KINDS for value in kinds):
        raise Problem(422, "Invalid delivery faults", f"drop_kinds is a list of {', '.join(MAILBOX_KINDS)}.",
                      type_="validation-error", errors=[field_error("/drop_kinds", "not a list of kinds")])
    _clearinghouse(request).sender.drop_kinds = set(kinds)
    return {"drop_kinds": sorted(kinds)}


def _validated(adapter: TypeAdapter, rules: list, title: str) -> list:
    """The rules parsed, or a 422 problem with a JSON pointer to each field at fault."""
    try:
        return adapter.validate_python(rules)
    except ValidationError as exc:
        raise Problem(422, title, type_="validation-error", errors=[
            field_error("/" + "/".join(str(part) for part in error["loc"]), error["msg"]) for error in exc.errors()
        ]) from None


@router.post("/v1/appeals", status_code=202, tags=["appeals"],
             responses={404: {"description": "This payer decided no such claim"},
                        400: {"description": "No or invalid Idempotency-Key, or the packet is not a PDF"}})
async def submit_appeal(body: AppealIn, request: Request,
                        idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER)] = None
                        ) -> JSONResponse:
    """An appeal of a claim the simulated payer decided (appeals.py); its decision follows after the
    adjudication delay (GET /v1/appeals/{reference}), an overturn with a paying 835."""
    if idempotency_key is None or idempotency_key != body.appeal_id:
        raise Problem(400, "Idempotency-Key required", "The Idempotency-Key is the appeal id.",
                      type_="idempotency-key-required", errors=[field_error("/header/Idempotency-Key", "missing")])
    try:
        packet = base64.b64decode(body.packet_pdf, validate=True)
    except ValueError:
        packet = b""
    if not packet.startswith(b"%PDF-"):
        raise Problem(400, "Packet is not a PDF", type_="not-a-pdf", errors=[field_error("/packet_pdf", "not a PDF")])
    received = _clearinghouse(request).receive_appeal(body, len(packet))
    if received is None:
        raise Problem(404, "Claim not found", "This payer has decided no claim with that control number.",
                      type_="claim-not-found")
    appeal, created = received
    return JSONResponse(appeal.view(), status_code=202 if created else 200,
                        headers={"Location": f"/v1/appeals/{appeal.reference}"})


@router.get("/v1/appeals/{reference}", tags=["appeals"])
async def get_appeal(reference: str, request: Request) -> dict:
    appeal = next((a for a in _clearinghouse(request).appeals.values() if a.reference == reference), None)
    if appeal is None:
        raise Problem(404, "Appeal not found", type_="appeal-not-found")
    return appeal.view()


@router.get("/livez", include_in_schema=False)
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Ready when both background workers run (there is no database or broker here)."""
    checks = {f"task:{name}": "stopped" if task.done() else "ok" for name, task in request.app.state.tasks.items()}
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503,
                        media_type="application/json" if ready else "application/problem+json")


app = create_app()
