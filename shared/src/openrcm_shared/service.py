"""The composition root every service uses: one FastAPI app with its engine, Kafka producer,
outbox relay and inbox consumer wired the same way, so the five services differ only in their
domain code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_shared.db import create_engine
from openrcm_shared.gc_tuning import settle_after_start_up
from openrcm_shared.health import router as health_router
from openrcm_shared.http.admission import AdmissionMiddleware
from openrcm_shared.http.openapi_docs import TOKEN_ROUTE_PROBLEMS, extra_components, problem_responses
from openrcm_shared.http.problems import install_problem_handlers
from openrcm_shared.messaging.consumer import InboxConsumer, Subscription
from openrcm_shared.messaging.kafka import manual_commit_consumer, reliable_producer
from openrcm_shared.messaging.relay import OutboxRelay, RelayWaker
from openrcm_shared.observability import (
    HTTP_REQUEST_DURATION, configure_logging, configure_tracing, context_from_traceparent, reset_correlation_id,
    set_correlation_id, tracer,
)
from openrcm_shared.security.authorization import SECURITY_SCHEME_NAME, Authorizer, OperationsGateMiddleware
from openrcm_shared.security.tokens import AuthSettings
from openrcm_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

@dataclass
class ServiceDefinition:
    """What makes one service: its name, HTTP routers and event subscriptions."""

    name: str
    title: str
    description: str
    aggregate_type: str
    routers: list[APIRouter]
    subscriptions: list[Subscription] = field(default_factory=list)
    # Routes partners call back (signed webhooks from the clearinghouse), served by every process
    # whatever its role: a deployment points partners at the worker, so an acknowledgement for
    # hundreds of claims is applied there and not on the event loop answering the EHRs.
    webhook_routers: list[APIRouter] = field(default_factory=list)
    # Further long-running work of the service (name -> coroutine function taking the Runtime);
    # started with the app, watched by /readyz, cancelled at shutdown. `background` runs where the
    # relay and consumer run (role all or worker); `every_process` in every process whatever its
    # role (work the API needs too, such as loading the code sets the scrubber reads).
    background: dict[str, Callable[["Runtime"], Awaitable[None]]] = field(default_factory=dict)
    every_process: dict[str, Callable[["Runtime"], Awaitable[None]]] = field(default_factory=dict)

    @property
    def consumer_group(self) -> str:
        return self.name

    @property
    def source(self) -> str:
        return f"/openrcm/{self.name}"

    @property
    def consumed_topics(self) -> list[str]:
        return sorted({s.contract.topic for s in self.subscriptions})


@dataclass
class Runtime:
    """Live resources of a running service, at `app.state.runtime`."""

    definition: ServiceDefinition
    settings: ServiceSettings
    engine: AsyncEngine
    producer: AIOKafkaProducer | None = None  # None in an API process (role api): it publishes nothing itself
    relay: OutboxRelay | None = None
    relay_waker: RelayWaker | None = None  # role api: the relay runs in the worker
    consumer: InboxConsumer | None = None
    tasks: dict[str, asyncio.Task] = field(default_factory=dict)

    def events_staged(self) -> None:
        if self.relay is not None:
            self.relay.wake()
        elif self.relay_waker is not None:
            self.relay_waker.wake()


async def _start_producer(settings: ServiceSettings, name: str) -> AIOKafkaProducer:
    """Start the producer, waiting for the broker (the stack may still be coming up)."""
    delay = 0.5
    while True:
        producer = reliable_producer(settings.kafka_bootstrap_servers, client_id=f"openrcm-{name}")
        try:
            await producer.start()
            return producer
        except Exception as exc:
            await producer.stop()
            log.warning("Kafka not reachable yet", extra={"error_class": type(exc).__name__})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5)


async def _run_consumer(runtime: Runtime) -> None:
    definition, settings = runtime.definition, runtime.settings
    kafka_consumer = manual_commit_consumer(
        settings.kafka_bootstrap_servers, *definition.consumed_topics,
        group_id=definition.consumer_group, client_id=f"openrcm-{definition.name}")
    await kafka_consumer.start()
    runtime.consumer = InboxConsumer(
        engine=runtime.engine, consumer=kafka_consumer, dlq_producer=runtime.producer,
        group_id=definition.consumer_group, subscriptions=definition.subscriptions, source=definition.source,
        aggregate_type=definition.aggregate_type, on_events_staged=runtime.events_staged)
    try:
        await runtime.consumer.run()
    finally:
        await kafka_consumer.stop()


def _lifespan(definition: ServiceDefinition, settings: ServiceSettings):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.authorizer.check_configured()
        runtime = Runtime(definition, settings, create_engine(settings.database_url, pool_size=settings.db_pool_size))
        app.state.runtime = runtime
        work = dict(definition.every_process)
        if settings.runs_background:
            runtime.producer = await _start_producer(settings, definition.name)
            runtime.relay = OutboxRelay(runtime.engine, runtime.producer, service_name=definition.name)
            work["outbox_relay"] = lambda runtime: runtime.relay.run()
            if definition.subscriptions:
                work["consumer"] = _run_consumer
            work.update(definition.background)
        else:
            runtime.relay_waker = RelayWaker(runtime.engine)
            work["relay_waker"] = lambda runtime: runtime.relay_waker.run()
        for name, run in work.items():
            runtime.tasks[name] = asyncio.create_task(run(runtime), name=name)
        settle_after_start_up()  # the garbage collector: start-up objects frozen, larger generations
        try:
            yield
        finally:
            for task in runtime.tasks.values():
                task.cancel()
            await asyncio.gather(*runtime.tasks.values(), return_exceptions=True)
            if runtime.producer is not None:
                await runtime.producer.stop()
            await runtime.engine.dispose()

    return lifespan


def _tracing_headers(headers) -> tuple[str | None, str | None]:
    """X-Correlation-Id and traceparent from the raw ASGI headers (names arrive lower-case). Only
    these two are decoded: decoding every header into a dict cost more than the lookup."""
    correlation_id = traceparent = None
    for name, value in headers:
        if name == b"x-correlation-id":
            correlation_id = value.decode("latin-1") or None
        elif name == b"traceparent":
            traceparent = value.decode("latin-1")
    return correlation_id, traceparent


class _ObservabilityMiddleware:
    """Per request: a server span (continuing an incoming traceparent), a correlation id
    (X-Correlation-Id in and out), and the request-duration histogram by route template."""

    def __init__(self, app, service_name: str) -> None:
        self.app = app
        self.service_name = service_name

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        correlation_id, traceparent = _tracing_headers(scope.get("headers", ()))
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                if correlation_id:
                    message.setdefault("headers", []).append((b"x-correlation-id", correlation_id.encode()))
            await send(message)

        token = set_correlation_id(correlation_id)
        try:
            with tracer().start_as_current_span(
                f"{scope['method']} {scope['path']}",
                context=context_from_traceparent(traceparent) if traceparent else None, kind=trace.SpanKind.SERVER,
            ):
                await self.app(scope, receive, send_wrapper)
        finally:
            reset_correlation_id(token)
            route = scope.get("route")
            HTTP_REQUEST_DURATION.labels(
                self.service_name, scope["method"], getattr(route, "path", "unmatched"), str(status_holder["status"])
            ).observe(time.perf_counter() - started)


# FastAPI's own OpenTelemetry instrumentation would add a second server span and spans for
# dependency resolution, the endpoint and serialisation to every request (about 5 % of the claims
# service's CPU under load), duplicating _ObservabilityMiddleware's span, which is the one that
# carries the trace into logs and outbox rows. Its metrics and logs go to OTel providers this
# project does not install (metrics are Prometheus, logs are JSON lines).
_NO_FASTAPI_TELEMETRY = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def _complete_openapi(app: FastAPI, auth: AuthSettings) -> None:
    """The OpenAPI document as served: the security scheme names the deployment's own token
    endpoint (routes declare the scheme with a placeholder, as they are defined before any
    deployment is known), and the schemas routes refer to by name are among the components: the
    `ProblemDetails` of every error response, and bodies read by the routes themselves (FastAPI
    adds only the models it validates or serialises itself)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(extra_components(schema))
            scheme = components.get("securitySchemes", {}).get(SECURITY_SCHEME_NAME)
            if scheme:
                scheme["flows"]["clientCredentials"]["tokenUrl"] = auth.token_endpoint
        return app.openapi_schema

    app.openapi = openapi


# Webhooks are signed by the sender, not token-checked: bad signatures (401), bodies we cannot
# read (400), overload and an unavailable database (503).
_WEBHOOK_PROBLEMS = problem_responses(400, 401, 413, 503)


def create_service_app(definition: ServiceDefinition, settings: ServiceSettings | None = None,
                       auth_settings: AuthSettings | None = None) -> FastAPI:
    """The service's app. It refuses to start serving without an issuer to trust (`OPENRCM_AUTH_ISSUER`,
    `OPENRCM_AUTH_JWKS_URL`): no route that needs a token is ever served without the check."""
    settings = settings or ServiceSettings.for_service(definition.name)
    authorizer = Authorizer(auth_settings or AuthSettings())
    configure_logging(definition.name, settings.log_level)
    configure_tracing(f"openrcm-{definition.name}")
    app = FastAPI(title=definition.title, description=definition.description, version="0.1.0",
                  lifespan=_lifespan(definition, settings), telemetry=_NO_FASTAPI_TELEMETRY)
    app.state.authorizer = authorizer
    install_problem_handlers(app)
    app.include_router(health_router)
    if settings.serves_api:  # a worker's port answers only health, metrics and webhooks
        for router in definition.routers:
            app.include_router(router, responses=TOKEN_ROUTE_PROBLEMS)
    for router in definition.webhook_routers:
        app.include_router(router, responses=_WEBHOOK_PROBLEMS)
    # Added first, so it runs inside the observability middleware: shed requests are counted too.
    _complete_openapi(app, authorizer.settings)
    app.add_middleware(AdmissionMiddleware)
    app.add_middleware(OperationsGateMiddleware, authorizer=authorizer)
    app.add_middleware(_ObservabilityMiddleware, service_name=definition.name)
    return app
