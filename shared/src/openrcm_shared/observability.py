"""Logs, metrics and traces shared by every service.

- Logs: one JSON object per line with service, trace id and correlation id (never payloads).
- Metrics: Prometheus names with unit suffixes and low-cardinality labels only (no patient or
  claim ids).
- Traces: OpenTelemetry; the W3C `traceparent` travels through outbox rows and Kafka headers, so
  one claim's path across services is one trace.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import sys
import traceback
from collections.abc import Iterator
from contextvars import ContextVar

from opentelemetry import context as otel_context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.environment_variables import OTEL_TRACES_SAMPLER
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from prometheus_client import Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# --- metrics -------------------------------------------------------------------------------------

HTTP_REQUEST_DURATION = Histogram(
    "openrcm_http_request_duration_seconds", "HTTP request duration",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_PROCESSED = Counter(
    "openrcm_consumer_events_processed_total", "Events applied by a consumer", ["group", "event_type"])
EVENTS_DUPLICATE = Counter(
    "openrcm_consumer_events_duplicate_total", "Redelivered events recognised by the inbox", ["group", "event_type"])
EVENTS_SKIPPED = Counter(
    "openrcm_consumer_events_skipped_total", "Events of types this consumer does not handle", ["group"])
EVENTS_DEAD_LETTERED = Counter(
    "openrcm_consumer_events_dead_lettered_total", "Events sent to the DLQ", ["group", "error_class"])
EVENTS_RETRIED = Counter(
    "openrcm_consumer_retries_total", "Transient failures retried in process", ["group"])
EVENT_PROCESSING_DURATION = Histogram(
    "openrcm_consumer_processing_duration_seconds", "Time to apply one event", ["group"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
CONSUMER_WAITING_PARTITIONS = Gauge(
    "openrcm_consumer_waiting_partitions", "Partitions held at a record that keeps failing transiently", ["group"])
CONSUMER_LONGEST_WAIT = Gauge(
    "openrcm_consumer_longest_wait_seconds", "How long the longest-held partition has been waiting", ["group"])
CONSUMER_PARKED_KEYS = Gauge(
    "openrcm_consumer_parked_keys", "Keys whose events wait behind one in the DLQ", ["group"])
OUTBOX_PUBLISHED = Counter("openrcm_outbox_published_total", "Outbox rows published", ["service"])
RETENTION_PRUNED = Counter(
    "openrcm_retention_pruned_rows_total", "Rows deleted by retention pruning", ["service", "table"])
OUTBOX_SET_ASIDE = Counter(
    "openrcm_outbox_set_aside_total", "Outbox rows moved aside because the broker can never take them", ["service"])
OUTBOX_BACKLOG = Gauge("openrcm_outbox_backlog_events", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "openrcm_outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox row", ["service"])

# --- tracing -------------------------------------------------------------------------------------


# No span exporter is installed, so a recorded span (its attributes, events, start and end) was
# built for nothing: 30 us a span against 15 for one that only carries the ids, on every request
# and every event consumed. By default a trace is recorded only where its caller decided to
# record it (a sampled `traceparent`); every span still gets real ids, so trace ids reach the
# logs, the outbox rows and the Kafka headers as before. OTEL_TRACES_SAMPLER (the SDK's standard
# variable, e.g. `parentbased_always_on`) chooses another sampler, for a deployment that installs
# an exporter.
_DEFAULT_SAMPLER = ParentBased(ALWAYS_OFF)


def configure_tracing(service_name: str) -> None:
    """Install an SDK tracer provider so spans get real ids (see _DEFAULT_SAMPLER for which are recorded)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    trace.set_tracer_provider(tracer_provider(service_name))


def tracer_provider(service_name: str) -> TracerProvider:
    sampler = None if os.environ.get(OTEL_TRACES_SAMPLER) else _DEFAULT_SAMPLER  # None: the SDK reads the variable
    return TracerProvider(resource=Resource.create({"service.name": service_name}), sampler=sampler)


@functools.cache
def tracer():
    # One tracer for the process (get_tracer builds a new one per call). Taken before
    # configure_tracing it is the API's proxy, which follows the provider set later.
    return trace.get_tracer("openrcm")


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None):
    return propagate.extract({"traceparent": traceparent} if traceparent else {})


def _unsampled_parent(traceparent: str | None) -> SpanContext | None:
    """The span context of a W3C traceparent (version 00: `00-<trace id>-<parent id>-<flags>`,
    W3C Trace Context, section 3.2) whose caller did not sample it, read without the propagator;
    None for a sampled, missing or malformed one."""
    if not traceparent or len(traceparent) != 55 or not traceparent.startswith("00-") or traceparent[-2:] != "00":
        return None
    try:
        trace_id, span_id = int(traceparent[3:35], 16), int(traceparent[36:52], 16)
    except ValueError:
        return None
    if not trace_id or not span_id or traceparent[35] != "-" or traceparent[52] != "-":
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(0))


@contextlib.contextmanager
def consumer_span(event_type: str, traceparent: str | None, topic: str, group_id: str) -> Iterator[None]:
    """The span under which a consumed event is applied, a child of its producer's.

    With the default sampler (no exporter installed) an unsampled parent's child is a
    non-recording span with the parent's trace id and a span id of its own: made here directly,
    which is what the SDK's sampler decides anyway, without the propagator and the sampler's work
    (a quarter of the consumer's per-event framework cost). Otherwise, and for a sampled parent,
    the SDK makes the span."""
    parent = _unsampled_parent(traceparent) if _records_only_sampled() else None
    if parent is None:
        with tracer().start_as_current_span(
                f"consume {event_type}", context=context_from_traceparent(traceparent), kind=trace.SpanKind.CONSUMER,
                attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                            "messaging.consumer.group.name": group_id}):
            yield
        return
    child = SpanContext(parent.trace_id, random.getrandbits(64), is_remote=False, trace_flags=parent.trace_flags)
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(child)))
    try:
        yield
    finally:
        otel_context.detach(token)


def _records_only_sampled() -> bool:
    """True when this process's provider samples by the default rule (`_DEFAULT_SAMPLER`)."""
    provider = trace.get_tracer_provider()
    return isinstance(provider, TracerProvider) and provider.sampler is _DEFAULT_SAMPLER


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


def set_correlation_id(value: str | None):
    return _correlation_id.set(value)


def reset_correlation_id(token) -> None:
    _correlation_id.reset(token)


def current_correlation_id() -> str | None:
    return _correlation_id.get()


# --- logging -------------------------------------------------------------------------------------


class _ContextFilter(logging.Filter):
    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service_name
        record.trace_id = current_trace_id()
        record.correlation_id = current_correlation_id()
        return True


class PhiSafeJsonFormatter(JsonFormatter):
    """JSON lines whose exceptions show where they were raised but not what they say.

    An exception's message is whatever its library put in it: asyncpg and PostgreSQL quote the
    value that failed ("invalid input for query argument $3: 'DOE'", "Key (member_id)=(...)"),
    a KeyError its key. A logged exception is therefore its class chain and its stack (file, line,
    function, source line: code, never data), and a message only where ours promise to hold no
    values (`sanitized_message`)."""

    def formatException(self, exc_info) -> str:
        return phi_safe_traceback(exc_info[1])


def phi_safe_traceback(error: BaseException | None) -> str:
    """The traceback of `error` and of its causes, each exception shown by class and sanitized message."""
    from openrcm_shared.messaging.errors import sanitized_message

    parts: list[str] = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        shown = sanitized_message(error)
        parts.append("Traceback (most recent call last):\n" + "".join(traceback.format_tb(error.__traceback__))
                     + type(error).__qualname__ + ("" if shown == type(error).__name__ else f": {shown}"))
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return "\n\nwhich was raised while handling, or caused by:\n".join(reversed(parts))


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """JSON lines on stderr for the service and the libraries it uses, uvicorn's own errors
    included (its handler would print their messages as they are)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PhiSafeJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(correlation_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    ))
    handler.addFilter(_ContextFilter(service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for server_logger in ("uvicorn", "uvicorn.error"):
        logging.getLogger(server_logger).handlers[:] = []
        logging.getLogger(server_logger).propagate = True
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel("WARNING")
