"""JSON logs carry the service, trace id and correlation id; trace context survives the envelope."""

from __future__ import annotations

import io
import json
import logging

from openrcm_shared.observability import (
    configure_logging, configure_tracing, context_from_traceparent, current_traceparent, reset_correlation_id,
    set_correlation_id, tracer, tracer_provider,
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


def test_otel_traces_sampler_chooses_another_sampler(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    with tracer_provider("test").get_tracer("test").start_as_current_span("recorded") as span:
        assert span.is_recording()
