"""Liveness, readiness and metrics endpoints.

/livez   the process answers, and none of its tasks was given up on (one that kept failing
         however often it was restarted, see openrcm_shared.supervisor): then 503, so the
         orchestrator restarts the process. No dependencies are checked: restarting would not
         fix them.
/readyz  PostgreSQL answers (to both of the service's roles: `database` is the app role's
         connection, `database:system` the system role's, row_security), Kafka answers (in a
         process that publishes or consumes: not an API process, role api, whose accepted work
         waits in the outbox), and the process's tasks (relay, consumer, background work) are
         running, not waiting to be restarted; otherwise
         503 listing the failing checks, so a load balancer stops routing here. In a process that
         consumes, `consumer.waiting_partitions` lists the partitions held at a record that keeps
         failing transiently (they wait for it, in order; readiness does not depend on them).
/metrics Prometheus text format.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(include_in_schema=False)


async def _check_database(engine) -> str | None:  # noqa: ANN001 - an AsyncEngine
    try:
        async with asyncio.timeout(2):
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return type(exc).__name__
    return None


async def _check_system_database(engine) -> str | None:  # noqa: ANN001 - an AsyncEngine
    """The system role answers and is not held to the practice policies: given the app role's URL
    by mistake, the relay would see no practice's outbox rows and publish nothing, silently."""
    try:
        async with asyncio.timeout(2):
            async with engine.connect() as conn:
                held = (await conn.execute(sa.text("SELECT row_security_active('outbox')"))).scalar()
    except Exception as exc:
        return type(exc).__name__
    return "held to the practice policies: not a system role" if held else None


async def _check_kafka(request: Request) -> str | None:
    producer = request.app.state.runtime.producer
    if producer is None:
        return "not started"
    try:
        async with asyncio.timeout(2):
            await producer.client.fetch_all_metadata()
    except Exception as exc:
        return type(exc).__name__ or "unreachable"
    return None


def _check_tasks(request: Request) -> dict[str, str]:
    runtime = request.app.state.runtime
    failures = {}
    for name, task in runtime.tasks.items():
        if runtime.supervisor.supervises(name):
            state = runtime.supervisor.state(name)
            if state != "ok":
                failures[name] = state
        elif task.done():
            failures[name] = "stopped" if task.cancelled() or task.exception() is None else type(task.exception()).__name__
    return failures


@router.get("/livez")
async def livez(request: Request) -> JSONResponse:
    runtime = getattr(request.app.state, "runtime", None)
    given_up = runtime.supervisor.given_up() if runtime is not None else {}
    if given_up:
        return JSONResponse({"status": "not live", "checks": {f"task:{name}": state for name, state in given_up.items()}},
                            status_code=503, media_type="application/problem+json")
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    # A system role that cannot log in (a wrong password) would otherwise show only as a relay
    # or background loop retrying in silence.
    database, system, kafka = await asyncio.gather(
        _check_database(runtime.engine), _check_system_database(runtime.system_engine),
        _check_kafka(request) if runtime.settings.publishes else asyncio.sleep(0))
    checks: dict[str, str] = {"database": database or "ok", "database:system": system or "ok"}
    if runtime.settings.publishes:
        checks["kafka"] = kafka or "ok"
    failed_tasks = _check_tasks(request)
    for name in runtime.tasks:
        checks[f"task:{name}"] = failed_tasks.get(name, "ok")
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    if runtime.consumer is not None:
        body["consumer"] = {"waiting_partitions": runtime.consumer.waiting_partitions()}
    return JSONResponse(body, status_code=200 if ready else 503,
                        media_type="application/json" if ready else "application/problem+json")


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
