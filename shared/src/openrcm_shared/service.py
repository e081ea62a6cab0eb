"""The composition root every service uses: one FastAPI app with its engine, Kafka producer,
outbox relay and inbox consumer wired the same way, so the five services differ only in their
domain code.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import _get_api_route_for_openapi as _api_route_for_openapi
from fastapi.routing import iter_route_contexts
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_shared.audit.api import audit_events_router
from openrcm_shared.audit.chainer import AuditChainer
from openrcm_shared.audit.recording import AuditMiddleware
from openrcm_shared.db import create_engine
from openrcm_shared.gc_tuning import settle_after_start_up
from openrcm_shared.health import router as health_router
from openrcm_shared.http.admission import AdmissionMiddleware
from openrcm_shared.http.inbound import InboundGuardMiddleware
from openrcm_shared.audit.purpose import PURPOSE_HEADER, purpose_parameter_doc
from openrcm_shared.http.openapi_docs import (
    TOKEN_ROUTE_PROBLEMS, complete_problem_docs, extra_components, problem_responses,
)
from openrcm_shared.http.problems import install_problem_handlers
from openrcm_shared.http.rate_limits import TokenBucketLimiter
from openrcm_shared.messaging.consumer import InboxConsumer, Subscription
from openrcm_shared.messaging.kafka import manual_commit_consumer, reliable_producer
from openrcm_shared.messaging.relay import OutboxRelay, RelayWaker
from openrcm_shared.retention import SHARED_RULES, RetentionPruner, RetentionRule
from openrcm_shared.observability import (
    HTTP_REQUEST_DURATION, configure_logging, configure_tracing, context_from_traceparent, reset_correlation_id,
    set_correlation_id, tracer,
)
from openrcm_shared.security.authorization import SECURITY_SCHEME_NAME, Authorizer, OperationsGateMiddleware
from openrcm_shared.security.tokens import AuthSettings
from openrcm_shared.settings import ServiceSettings
from openrcm_shared.supervisor import TaskSupervisor

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
    # started with the app and restarted if it ends (Runtime.supervisor), watched by /readyz and
    # /livez, cancelled at shutdown. `background` runs where the
    # relay and consumer run (role all or worker); `every_process` in every process whatever its
    # role (work the API needs too, such as loading the code sets the scrubber reads).
    background: dict[str, Callable[["Runtime"], Awaitable[None]]] = field(default_factory=dict)
    every_process: dict[str, Callable[["Runtime"], Awaitable[None]]] = field(default_factory=dict)
    # The service's own tables pruned by age, beside the inbox and the idempotency keys every
    # service prunes (openrcm_shared.retention); pruned where the background work runs.
    retention: list[RetentionRule] = field(default_factory=list)

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
    """Live resources of a running service, at `app.state.runtime`.

    Two engines (openrcm_shared.row_security): `engine`, the app role's, whose transactions see
    the one practice bound to the task (requests, consumed events); `system_engine`, the system
    role's, for the work that spans practices (the relay, the service's background loops,
    webhooks whose practice is not known yet)."""

    definition: ServiceDefinition
    settings: ServiceSettings
    engine: AsyncEngine
    system_engine: AsyncEngine
    producer: AIOKafkaProducer | None = None  # None in an API process (role api): it publishes nothing itself
    relay: OutboxRelay | None = None
    relay_waker: RelayWaker | None = None  # role api (or a worker with the relay apart): it runs elsewhere
    consumer: InboxConsumer | None = None
    audit_chainer: AuditChainer | None = None  # role all or worker: seals the audit trail's new entries
    tasks: dict[str, asyncio.Task] = field(default_factory=dict)
    supervisor: TaskSupervisor = field(default_factory=TaskSupervisor)  # restarts the tasks that end

    def events_staged(self) -> None:
        if self.relay is not None:
            self.relay.wake()
        elif self.relay_waker is not None:
            self.relay_waker.wake()


async def _start_producer(settings: ServiceSettings, name: str) -> AIOKafkaProducer:
    """Start the producer, waiting for the broker (the stack may still be coming up)."""
    delay = 0.5
    while True:
        producer = reliable_producer(settings.kafka_bootstrap_servers, client_id=f"openrcm-{name}",
                                     security=settings.kafka_security)
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
        group_id=definition.consumer_group, client_id=f"openrcm-{definition.name}", security=settings.kafka_security,
        fetch_min_bytes=settings.consumer_fetch_min_bytes, fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms)
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
        runtime = Runtime(definition, settings, create_engine(settings.database_url, pool_size=settings.db_pool_size),
                          create_engine(settings.system_database_url or settings.database_url,
                                        pool_size=settings.db_system_pool_size),
                          supervisor=TaskSupervisor.from_settings(settings))
        app.state.runtime = runtime
        # A relay-only process runs nothing of the service's own (not even what every API and
        # worker process loads, such as the scrubber's code sets).
        work = dict(definition.every_process) if settings.role != "relay" else {}
        if settings.publishes:
            runtime.producer = await _start_producer(settings, definition.name)
        if settings.runs_relay:
            # The outbox holds every practice's events: the relay reads, deletes and sets them aside as
            # the system role.
            runtime.relay = OutboxRelay(runtime.system_engine, runtime.producer, service_name=definition.name,
                                        max_event_bytes=settings.outbox_max_event_bytes)
            work["outbox_relay"] = lambda runtime: runtime.relay.run()
        else:  # the relay runs in another process: wake it when events were staged here
            runtime.relay_waker = RelayWaker(runtime.engine)
            work["relay_waker"] = lambda runtime: runtime.relay_waker.run()
        if settings.runs_background:
            # Every practice's entries: the system role seals them (it bypasses the practice policy).
            runtime.audit_chainer = AuditChainer(runtime.system_engine, service_name=definition.name,
                                                 retention_days=settings.audit_retention_days)
            work["audit_chainer"] = lambda runtime: runtime.audit_chainer.run()
            if definition.subscriptions:
                work["consumer"] = _run_consumer
            # Built here, so a retention setting that cannot work stops the start-up. It deletes every
            # practice's old rows: the system role.
            pruner = RetentionPruner(runtime.system_engine, [*SHARED_RULES, *definition.retention],
                                     service_name=definition.name)
            work["retention"] = lambda runtime: pruner.run()
            work.update(definition.background)
        for name, run in work.items():
            runtime.tasks[name] = runtime.supervisor.start(name, functools.partial(run, runtime))
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
            await runtime.system_engine.dispose()

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
        route_template = "unmatched"
        try:
            # Named by the route's template once the router has matched it, never by the path,
            # which can hold a patient's id (/v1/accounts/{patient_id}).
            with tracer().start_as_current_span(
                scope["method"], context=context_from_traceparent(traceparent) if traceparent else None,
                kind=trace.SpanKind.SERVER,
            ) as span:
                try:
                    await self.app(scope, receive, send_wrapper)
                finally:
                    route_template = getattr(scope.get("route"), "path", "unmatched")
                    if span.is_recording():
                        span.update_name(f"{scope['method']} {route_template}")
        finally:
            reset_correlation_id(token)
            HTTP_REQUEST_DURATION.labels(
                self.service_name, scope["method"], route_template, str(status_holder["status"])
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
            schema = complete_problem_docs(build())
            _document_purpose_of_use(app, schema)
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(extra_components(schema))
            scheme = components.get("securitySchemes", {}).get(SECURITY_SCHEME_NAME)
            if scheme:
                scheme["flows"]["clientCredentials"]["tokenUrl"] = auth.token_endpoint
        return app.openapi_schema

    app.openapi = openapi


def _document_purpose_of_use(app: FastAPI, schema: dict) -> None:
    """Every audited operation reads the optional `X-Purpose-Of-Use` header (openrcm_shared.audit)."""
    # The routes as the OpenAPI generator sees them (routers included with their prefixes); FastAPI
    # keeps no flat list of them, so its own walk is used (pinned in uv.lock; a contract test checks it).
    for context in iter_route_contexts(app.routes):
        route = _api_route_for_openapi(context)
        if route is None or getattr(getattr(route, "endpoint", None), "audit_spec", None) is None:
            continue
        for method in getattr(route, "methods", ()):
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(parameter.get("name", "").lower() == PURPOSE_HEADER.lower() for parameter in parameters):
                parameters.append(purpose_parameter_doc())


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
        app.include_router(audit_events_router(), responses=TOKEN_ROUTE_PROBLEMS)  # scope audit:read (AuditRead)
    if settings.role != "relay":  # a relay-only process takes no partner's calls
        for router in definition.webhook_routers:
            app.include_router(router, responses=_WEBHOOK_PROBLEMS)
    # Added first, so it runs inside the observability middleware: shed requests are counted too.
    _complete_openapi(app, authorizer.settings)
    # Innermost: it sees the route a request was routed to, and its answer before it goes out.
    app.add_middleware(AuditMiddleware)
    # Added before observability, so it runs inside it: shed requests are counted too.
    app.add_middleware(AdmissionMiddleware)
    app.add_middleware(OperationsGateMiddleware, authorizer=authorizer)
    # Outside admission: a request refused for its size, its rate or a NUL never takes a place.
    app.state.rate_limiter = TokenBucketLimiter.from_settings()
    # Each request is counted once, against its OAuth client, by the authorization (check_rate_limit).
    app.add_middleware(InboundGuardMiddleware, api=app, limiter=app.state.rate_limiter, limit_unauthenticated=False)
    app.add_middleware(_ObservabilityMiddleware, service_name=definition.name)
    return app
