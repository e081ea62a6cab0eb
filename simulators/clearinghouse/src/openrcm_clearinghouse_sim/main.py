"""The clearinghouse simulator's HTTP API.

    POST /v1/batches            an 837 file (Content-Type: application/edi-x12, Idempotency-Key) -> 202
    GET  /v1/batches/{id}       status, the 999s and the 277CA, claim outcomes, delivery states
    POST /v1/batches/{id}/redeliver   queue again the documents not yet delivered
    GET  /v1/rules, PUT /v1/rules     the rejection rules (PUT replaces them; for tests)
    GET  /v1/adjudication-rules, PUT /v1/adjudication-rules
                                the simulated payer's adjudication rules (PUT replaces them; for tests)
    GET  /v1/remittances        the 835s produced (optionally ?batch_id=), with their X12 and delivery
    POST /v1/eligibility        a 270 answered with a 271 in the response (eligibility.py: member-id rules)
    GET  /v1/eligibility/stats  inquiries answered per payer and the most in progress at once
    /livez, /readyz

Run: python -m uvicorn openrcm_clearinghouse_sim.main:app --port 8010
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import APIRouter, Body, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from openrcm_shared.http.idempotency import IDEMPOTENCY_HEADER, validate_key
from openrcm_shared.http.problems import Problem, field_error, install_problem_handlers
from openrcm_clearinghouse_sim.acknowledgements import ClearinghouseIdentity, ControlNumbers
from openrcm_clearinghouse_sim.adjudication_rules import (
    ADJUDICATION_RULE_LIST, AdjudicationRule, load_adjudication_rules,
)
from openrcm_clearinghouse_sim.batches import Clearinghouse, IdempotencyConflict
from openrcm_clearinghouse_sim.delivery import X12_MEDIA_TYPE, WebhookSender
from openrcm_clearinghouse_sim.eligibility import EligibilityDesk, router as eligibility_router
from openrcm_clearinghouse_sim.rules import RULE_LIST, RejectionRule, load_rules
from openrcm_clearinghouse_sim.settings import Settings

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


@router.post("/v1/batches", status_code=202, tags=["batches"],
             openapi_extra={"requestBody": {"content": {X12_MEDIA_TYPE: {"schema": {"type": "string"}}},
                                            "required": True}},
             responses={400: {"description": "Not an X12 interchange, or no/invalid Idempotency-Key"},
                        415: {"description": "Content-Type is not application/edi-x12"},
                        422: {"description": "Idempotency-Key reused with another file"}})
async def submit_batch(request: Request,
                       idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER)] = None) -> JSONResponse:
    """Store an 837 file and acknowledge it later (999, then 277CA) by webhook."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != X12_MEDIA_TYPE:
        raise Problem(415, "Unsupported media type", f"Send the 837 as {X12_MEDIA_TYPE}.",
                      type_="unsupported-media-type")
    if idempotency_key is None:
        raise Problem(400, "Idempotency-Key required", "Every batch carries an Idempotency-Key.",
                      type_="idempotency-key-required", errors=[field_error("/header/Idempotency-Key", "missing")])
    validate_key(idempotency_key)
    body = await request.body()
    if len(body) > MAX_FILE_BYTES:
        raise Problem(413, "File too large", f"At most {MAX_FILE_BYTES} bytes.", type_="file-too-large")
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


def _validated(adapter: TypeAdapter, rules: list, title: str) -> list:
    """The rules parsed, or a 422 problem with a JSON pointer to each field at fault."""
    try:
        return adapter.validate_python(rules)
    except ValidationError as exc:
        raise Problem(422, title, type_="validation-error", errors=[
            field_error("/" + "/".join(str(part) for part in error["loc"]), error["msg"]) for error in exc.errors()
        ]) from None


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
