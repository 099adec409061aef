"""OpenTelemetry spans: one per request (or job), one child per routing attempt (its upstream call).

Attribute names follow OpenTelemetry's GenAI conventions where they exist — `gen_ai.operation.name`
(`text_to_speech` / `speech_to_text`, as the open proposal for audio names them), `gen_ai.provider.name`,
`gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens` / `output_tokens` — and
HTTP's (`http.request.method`, `http.route`, `http.response.status_code`, `server.address`); the rest
is `audio_gateway.*`: the ledger status, outcome, billed units, cost (exact decimal text, as billed).

On a request span `gen_ai.request.model` is what the client asked for and `gen_ai.response.model` the
catalog model that served; on an attempt span `gen_ai.request.model` is the provider's own model name
(what was sent upstream) and `audio_gateway.model` the catalog id. The attempt span is current while
the provider is called, so the `traceparent` it receives names it (`propagation.add_trace_headers`).

A `Tracing` exists only when tracing is on: with nothing configured the gateway makes no span, installs
no middleware and allocates nothing per request. It is started in the process that serves (after a
fork, since its exporter runs a thread).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, format_trace_id

from .. import __version__
from ..billing import decimal_text
from ..catalog import Target
from ..errors import GatewayError
from ..ledger import LedgerRow
from ..routing import Attempt, AttemptEnd, Outcome
from ..settings import TracingSettings
from .propagation import extract_context, linked_context

__all__ = ["Tracing", "OPERATIONS"]

OPERATIONS = {"tts": "text_to_speech", "stt": "speech_to_text"}
_TRACE_HEADERS = (b"traceparent", b"tracestate")


class Tracing:
    def __init__(self, provider: TracerProvider):
        self.provider = provider
        self.tracer = provider.get_tracer("audio_gateway", __version__)
        self._servers: dict[str, dict[str, Any]] = {}   # base URL -> server.address / server.port

    @classmethod
    def start(cls, settings: TracingSettings, exporter: SpanExporter | None = None) -> Tracing:
        """OTLP/HTTP in batches to the endpoint the settings resolved (the exporter and the batch processor read
        the other `OTEL_EXPORTER_OTLP_*` / `OTEL_BSP_*` variables themselves); or, for tests, the
        given exporter span by span. The sampler is the SDK's (`OTEL_TRACES_SAMPLER`; default: follow the
        client's sampled flag, sample everything else)."""
        resource = Resource.create({"service.name": settings.service_name, "service.version": __version__})
        provider = TracerProvider(resource=resource)
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.endpoint)))
        else:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        return cls(provider)

    def shutdown(self) -> None:
        """Export what is buffered and stop the exporter's thread."""
        self.provider.shutdown()

    # -- requests ---------------------------------------------------------------------------------------

    async def serve(self, app: Any, scope: Any, receive: Any, send: Any) -> None:
        """Run one HTTP request inside its SERVER span, child of the client's `traceparent` if it sent one."""
        carrier = {name.decode(): value.decode("latin-1") for name, value in scope["headers"] if name in _TRACE_HEADERS}
        parent = extract_context(carrier) if carrier else None
        route = scope.get("path_template") or scope["path"]
        span = self.tracer.start_span(f"{scope['method']} {route}", context=parent, kind=SpanKind.SERVER, attributes={
            "http.request.method": scope["method"], "http.route": route, "url.path": scope["path"]})
        trace_id = format_trace_id(span.get_span_context().trace_id)
        state = scope["state"]
        state["trace_id"] = trace_id          # the ledger row's (api/books.py reads it)
        state["log"]["trace_id"] = trace_id   # and the access log line's
        status = 0

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await app(scope, receive, send_status)
        except GatewayError as exc:           # answered by the exception handlers outside this middleware
            status = status or exc.status
            raise
        except BaseException as exc:
            status = status or 500
            if isinstance(exc, Exception):
                span.record_exception(exc)
            raise
        finally:
            context.detach(token)
            span.set_attribute("http.response.status_code", status or 499)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()

    @contextmanager
    def job(self, job_id: str, kind: str, model: str, traceparent: str | None) -> Iterator[Span]:
        """A job's run: a trace of its own (it may run long after, and more than once), linked to the
        request that submitted it."""
        submitted = linked_context(traceparent)
        operation = OPERATIONS.get(kind, kind)
        span = self.tracer.start_span(f"job {operation} {model}", kind=SpanKind.CONSUMER,
                                      links=[Link(submitted)] if submitted is not None else None,
                                      attributes={"gen_ai.operation.name": operation, "gen_ai.request.model": model,
                                                  "audio_gateway.job.id": job_id})
        with trace.use_span(span, end_on_exit=True):
            yield span

    # -- attempts (an AttemptObserver) --------------------------------------------------------------------

    def begin(self, target: Target, primary: Target) -> AttemptEnd:
        parent = trace.get_current_span().get_span_context()
        if parent.is_valid and not parent.trace_flags.sampled:
            # The request was not sampled (OTEL_TRACES_SAMPLER): its children would not be either, so none
            # is made; the provider still gets the request's traceparent, flagged not sampled.
            return _unsampled
        model = target.model
        operation = OPERATIONS[model.kind]
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation, "gen_ai.provider.name": target.provider.name,
            "gen_ai.request.model": model.upstream_model, "audio_gateway.model": model.id,
            "audio_gateway.fallback": model.id != primary.model.id}
        attributes.update(self._server(target.provider.base_url))
        span = self.tracer.start_span(f"{operation} {model.upstream_model}", kind=SpanKind.CLIENT, attributes=attributes)
        token = context.attach(trace.set_span_in_context(span))

        def end(attempt: Attempt | None) -> None:
            context.detach(token)
            if attempt is None:
                span.set_attribute("audio_gateway.outcome", "cancelled")
            else:
                span.set_attribute("audio_gateway.outcome", str(attempt.outcome))
                if attempt.status is not None:
                    span.set_attribute("http.response.status_code", attempt.status)
                if attempt.outcome == Outcome.OK:
                    span.set_attribute("gen_ai.response.model", model.upstream_model)
                else:
                    span.set_attribute("error.type", str(attempt.outcome))
                    span.set_status(Status(StatusCode.ERROR, attempt.reason or str(attempt.outcome)))
                if not attempt.reached_provider:
                    span.set_attribute("audio_gateway.skipped", True)
            span.end()

        return end

    def _server(self, base_url: str) -> dict[str, Any]:
        server = self._servers.get(base_url)
        if server is None:
            url = urlsplit(base_url)
            server = self._servers[base_url] = {} if not url.hostname else {
                "server.address": url.hostname, "server.port": url.port or (443 if url.scheme == "https" else 80)}
        return server

    # -- what the ledger recorded --------------------------------------------------------------------------

    def annotate(self, row: LedgerRow) -> None:
        """The finished request's facts on its span (the current one: the request's, or the job's)."""
        span = trace.get_current_span()
        if not span.is_recording():
            return
        attributes: MutableMapping[str, Any] = {
            "gen_ai.operation.name": OPERATIONS[row.kind], "gen_ai.request.model": row.model_requested,
            "audio_gateway.endpoint": row.endpoint, "audio_gateway.status": row.status,
            "audio_gateway.http_status": row.http_status, "audio_gateway.attempts": row.attempts,
            "audio_gateway.fell_back": row.fell_back, "audio_gateway.cost_usd": decimal_text(row.cost_usd),
            "audio_gateway.cost_final": row.cost_final, "audio_gateway.request_id": row.id}
        if row.model_served is not None:
            attributes["gen_ai.response.model"] = row.model_served
        if row.provider is not None:
            attributes["gen_ai.provider.name"] = row.provider
        if row.input_tokens or row.audio_input_tokens:
            attributes["gen_ai.usage.input_tokens"] = row.input_tokens + row.audio_input_tokens
        if row.output_tokens:
            attributes["gen_ai.usage.output_tokens"] = row.output_tokens
        billed: dict[str, float] = {}
        for line in row.lines:
            billed[line.unit] = billed.get(line.unit, 0.0) + float(line.quantity)
        for unit, quantity in billed.items():
            attributes[f"audio_gateway.billed_units.{unit}"] = quantity
        span.set_attributes(attributes)
        if row.status == "failed":
            span.set_status(Status(StatusCode.ERROR, f"{row.status} ({row.http_status})"))


def _unsampled(attempt: Attempt | None) -> None:
    return None
