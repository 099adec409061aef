"""W3C trace context in and out: what the provider receives, what a job record keeps, what a log shows.

Only OpenTelemetry's API is used (no SDK): with tracing off no span is ever current, every function
here returns at its first check, and nothing is allocated.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanContext, format_trace_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["add_trace_headers", "current_traceparent", "current_trace_id", "extract_context", "linked_context"]


def add_trace_headers(headers: MutableMapping[str, str]) -> None:
    """`traceparent` (and `tracestate`) for an outgoing request, when a span is current."""
    if trace.get_current_span().get_span_context().is_valid:
        TraceContextTextMapPropagator().inject(headers)


def current_traceparent() -> str | None:
    """The current span as a `traceparent` value, to be stored (a job record) and linked to later."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format_trace_id(context.trace_id) if context.is_valid else None


def extract_context(carrier: dict[str, str]) -> Context:
    """The remote parent a client sent (`traceparent`, `tracestate`); an empty context if none or invalid."""
    return TraceContextTextMapPropagator().extract(carrier)


def linked_context(traceparent: str | None) -> SpanContext | None:
    """The span a stored `traceparent` names, for a link; None when absent or malformed."""
    if not traceparent:
        return None
    context = trace.get_current_span(extract_context({"traceparent": traceparent})).get_span_context()
    return context if context.is_valid else None
