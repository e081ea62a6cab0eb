"""JSON logs carry the service, trace id and correlation id; trace context survives the envelope."""

from __future__ import annotations

import io
import json
import logging

from openrcm_shared.observability import (
    configure_logging, configure_tracing, context_from_traceparent, current_traceparent, reset_correlation_id,
    set_correlation_id, tracer,
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
    with tracer().start_as_current_span("consume", context=context_from_traceparent(traceparent)) as child:
        assert child.get_span_context().trace_id == parent.get_span_context().trace_id
        assert child.parent.span_id == parent.get_span_context().span_id
