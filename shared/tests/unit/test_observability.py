"""JSON logs carry the service, trace id and correlation id; trace context survives the envelope."""

from __future__ import annotations

import io
import json
import logging

from opentelemetry import trace

from openrcm_shared.observability import (
    configure_logging, configure_tracing, consumer_span, context_from_traceparent, current_trace_id,
    current_traceparent, reset_correlation_id, set_correlation_id, tracer, tracer_provider,
)


def test_log_lines_are_json_with_trace_and_correlation_ids():
    configure_tracing("test")
    configure_logging("claims")
    stream = io.StringIO()
    logging.getLogger().handlers[0].stream = stream
    token = set_correlation_id("corr-123")
    try:
        with tracer().start_as_current_span("work") as span:
            logging.getLogger("test").info("claim submitted")
            trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        reset_correlation_id(token)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "claim submitted" and line["service"] == "claims" and line["level"] == "INFO"
    assert line["trace_id"] == trace_id and line["correlation_id"] == "corr-123"


def test_a_consumer_span_continues_the_producers_trace():
    configure_tracing("test")
    with tracer().start_as_current_span("http request") as parent:
        traceparent = current_traceparent()
    _, trace_id, span_id, flags = traceparent.split("-")
    ids = parent.get_span_context()
    assert (trace_id, span_id) == (f"{ids.trace_id:032x}", f"{ids.span_id:016x}")
    assert int(flags, 16) & 0x01 == 0  # not sampled: no exporter (other flags: W3C Trace Context level 2)
    with tracer().start_as_current_span("consume", context=context_from_traceparent(traceparent)) as child:
        assert child.get_span_context().trace_id == parent.get_span_context().trace_id
        assert child.get_span_context().span_id != parent.get_span_context().span_id


SAMPLED_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UNSAMPLED_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"


def test_spans_are_recorded_only_where_the_caller_sampled_the_trace(monkeypatch):
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    spans = tracer_provider("test").get_tracer("test")
    with spans.start_as_current_span("a request of our own") as own:
        assert not own.is_recording() and own.get_span_context().is_valid  # ids for logs and events all the same
    with spans.start_as_current_span("sampled upstream", context=context_from_traceparent(SAMPLED_PARENT)) as span:
        assert span.is_recording() and span.parent.span_id == 0xB7AD6B7169203331
    with spans.start_as_current_span("not sampled", context=context_from_traceparent(UNSAMPLED_PARENT)) as span:
        assert not span.is_recording() and span.get_span_context().trace_id == 0x0AF7651916CD43DD8448EB211C80319C


def test_an_event_is_applied_under_a_child_of_its_producers_span():
    configure_tracing("test")
    for parent in (UNSAMPLED_PARENT, SAMPLED_PARENT):
        with consumer_span("org.openrcm.claims.claim_submitted.v1", parent, "rcm.claims.events.v1", "denials"):
            span = trace.get_current_span().get_span_context()
            assert current_trace_id() == "0af7651916cd43dd8448eb211c80319c"
            assert span.is_valid and not span.is_remote and span.span_id != 0xB7AD6B7169203331
            assert span.trace_flags.sampled == parent.endswith("01")
            # what the handler's own events carry on: the trace, under this span
            assert current_traceparent().split("-")[1:3] == [f"{span.trace_id:032x}", f"{span.span_id:016x}"]
        assert not trace.get_current_span().get_span_context().is_valid  # detached afterwards
    with consumer_span("x", None, "t", "g"):  # no parent: a trace of its own
        assert trace.get_current_span().get_span_context().is_valid
    with consumer_span("x", "00-zz-not-a-traceparent", "t", "g"):
        assert trace.get_current_span().get_span_context().is_valid


def test_otel_traces_sampler_chooses_another_sampler(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    with tracer_provider("test").get_tracer("test").start_as_current_span("recorded") as span:
        assert span.is_recording()


# Values as data reaching the code, not literals in the lines a traceback quotes.
PATIENT, MEMBER_ID = "DOE, JANE 1980-05-17", "XJ99887766"


def test_logged_exceptions_show_their_stack_but_not_the_values_in_their_messages():
    configure_logging("claims")
    stream = io.StringIO()
    logging.getLogger().handlers[0].stream = stream
    try:
        try:
            {}[PATIENT]
        except KeyError as missing:
            raise ValueError(f"invalid input for query argument $3: {MEMBER_ID!r}") from missing
    except ValueError:
        logging.getLogger("test").exception("unhandled error")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert "DOE" not in line["exc_info"] and "XJ99887766" not in line["exc_info"]
    assert "KeyError" in line["exc_info"] and "ValueError" in line["exc_info"]
    assert "test_logged_exceptions_show_their_stack" in line["exc_info"]  # where it was raised


def test_uvicorns_errors_go_through_the_same_json_lines():
    configure_logging("claims")
    stream = io.StringIO()
    logging.getLogger().handlers[0].stream = stream
    try:
        raise RuntimeError(f"member {MEMBER_ID}")
    except RuntimeError as error:
        logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=error)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["logger"] == "uvicorn.error" and "XJ99887766" not in line["exc_info"]


def test_engines_keep_statement_parameters_out_of_error_messages():
    from openrcm_shared.db import create_engine

    engine = create_engine("postgresql://nobody@127.0.0.1:1/none")
    assert engine.sync_engine.hide_parameters is True


async def test_server_spans_are_named_by_route_template_not_by_path(monkeypatch):
    import httpx
    from fastapi import APIRouter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    from openrcm_shared import service
    from openrcm_shared.service import ServiceDefinition, create_service_app

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(service, "tracer", lambda: provider.get_tracer("test"))
    router = APIRouter()

    @router.get("/v1/accounts/{patient_id}")
    async def account(patient_id: str) -> dict:
        return {}

    app = create_service_app(ServiceDefinition(name="spans", title="t", description="d", aggregate_type="a",
                                               routers=[router]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                 headers={"X-Tenant-Id": "p"}) as client:
        assert (await client.get("/v1/accounts/PATIENT-DOE-JANE")).status_code == 200
    assert [span.name for span in exporter.get_finished_spans()] == ["GET /v1/accounts/{patient_id}"]
