"""OpenTelemetry traces, read back with the SDK's in-memory exporter: one SERVER span per request, child of
the client's `traceparent`; one CLIENT span per attempt, whose context is the `traceparent` the fake
provider received; GenAI attributes; the trace id in the access log line and in the ledger row."""

from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from audio_gateway.observability.telemetry import Telemetry
from audio_gateway.settings import Settings, SettingsError, TracingSettings

from ..audio_samples import make_wav
from ..conftest import provider_env
from ..fakes import Fault, speech_usage
from ..support.server_thread import GatewayServer
from .mix import AUTH, SPEECH

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"


class Rows:
    """A ledger sink that keeps what it is given."""

    def __init__(self) -> None:
        self.rows: list = []

    def record(self, row) -> None:
        self.rows.append(row)


@pytest.fixture
def traced(fake_openai, fake_siliconflow):
    env = provider_env(fake_openai, fake_siliconflow)
    exporter = InMemorySpanExporter()
    server = GatewayServer(env, telemetry=Telemetry(Settings.from_env(env), span_exporter=exporter)).start()
    rows = Rows()
    server.app.state.ledger = SimpleNamespace(sink=rows)
    yield SimpleNamespace(server=server, spans=exporter, rows=rows)
    server.stop()


def _post(server: GatewayServer, path: str, traceparent: str | None = TRACEPARENT, **kwargs) -> httpx.Response:
    headers = {**AUTH, **({"traceparent": traceparent} if traceparent else {})}
    return httpx.post(f"{server.url}{path}", headers=headers, timeout=10, **kwargs)


def _by_kind(spans, kind: SpanKind) -> list:
    return [s for s in spans if s.kind == kind]


def _access_lines(caplog, request_id: str) -> list[dict]:
    """The access line of a request, written once its response has gone (a moment after the client has it)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "audio_gateway.access"]
        found = [line for line in lines if line["request_id"] == request_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def _finished(exporter: InMemorySpanExporter, requests: int = 1) -> tuple:
    """The spans once `requests` request spans have ended: a request span ends just after the response's
    last byte left, which the client may have seen a moment before."""
    deadline = time.monotonic() + 5
    while len(_by_kind(spans := exporter.get_finished_spans(), SpanKind.SERVER)) < requests:
        assert time.monotonic() < deadline, [s.name for s in spans]
        time.sleep(0.01)
    return spans


def test_a_fallback_is_one_request_span_with_a_child_span_per_attempt(traced, fake_openai, fake_siliconflow):
    fake_openai.inject(Fault.HTTP_503, path="/v1/audio/speech")
    response = _post(traced.server, "/v1/audio/speech", json=SPEECH)
    assert response.status_code == 200 and response.headers["x-gateway-provider"] == "siliconflow"
    spans = _finished(traced.spans)
    (request,) = _by_kind(spans, SpanKind.SERVER)
    first, second = sorted(_by_kind(spans, SpanKind.CLIENT), key=lambda s: s.start_time)
    assert len(spans) == 3

    assert format_trace_id(request.context.trace_id) == CLIENT_TRACE     # the client's trace continues
    assert request.parent.span_id == int(CLIENT_SPAN, 16) and request.parent.is_remote
    assert {s.context.trace_id for s in spans} == {request.context.trace_id}
    assert first.parent.span_id == second.parent.span_id == request.context.span_id
    assert request.name == "POST /v1/audio/speech"
    assert dict(request.attributes) == {
        "http.request.method": "POST", "http.route": "/v1/audio/speech", "url.path": "/v1/audio/speech",
        "http.response.status_code": 200,
        "gen_ai.operation.name": "text_to_speech", "gen_ai.request.model": "tts-1",
        "gen_ai.response.model": "alibaba/cosyvoice2-0.5b", "gen_ai.provider.name": "siliconflow",
        "audio_gateway.endpoint": "audio.speech", "audio_gateway.status": "completed", "audio_gateway.http_status": 200,
        "audio_gateway.attempts": 2, "audio_gateway.fell_back": True,
        "audio_gateway.cost_usd": response.headers["x-gateway-cost-usd"], "audio_gateway.cost_final": True,
        "audio_gateway.request_id": response.headers["x-request-id"],
        "audio_gateway.billed_units.utf8_byte": float(len(SPEECH["input"].encode()))}

    assert first.name == "text_to_speech tts-1" and first.status.status_code == StatusCode.ERROR
    assert {k: first.attributes[k] for k in ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                                              "audio_gateway.model", "audio_gateway.outcome", "http.response.status_code",
                                              "error.type", "audio_gateway.fallback")} == {
        "gen_ai.operation.name": "text_to_speech", "gen_ai.provider.name": "openai", "gen_ai.request.model": "tts-1",
        "audio_gateway.model": "openai/tts-1", "audio_gateway.outcome": "status", "http.response.status_code": 503,
        "error.type": "status", "audio_gateway.fallback": False}
    assert second.name == "text_to_speech FunAudioLLM/CosyVoice2-0.5B" and second.status.status_code == StatusCode.UNSET
    assert second.attributes["gen_ai.response.model"] == "FunAudioLLM/CosyVoice2-0.5B"
    assert second.attributes["audio_gateway.outcome"] == "ok" and second.attributes["audio_gateway.fallback"] is True
    assert second.attributes["server.address"] == "127.0.0.1"

    # Each provider saw the traceparent of the attempt that called it.
    (to_openai,) = fake_openai.requests
    (to_siliconflow,) = fake_siliconflow.requests
    assert to_openai.headers["traceparent"] == f"00-{CLIENT_TRACE}-{format_span_id(first.context.span_id)}-01"
    assert to_siliconflow.headers["traceparent"] == f"00-{CLIENT_TRACE}-{format_span_id(second.context.span_id)}-01"


def test_the_trace_id_is_in_the_access_log_line_and_the_ledger_row(traced, caplog):
    caplog.set_level(logging.INFO, logger="audio_gateway.access")
    response = _post(traced.server, "/v1/audio/speech", json=SPEECH)
    assert response.status_code == 200
    (request,) = _by_kind(_finished(traced.spans), SpanKind.SERVER)
    (line,) = _access_lines(caplog, response.headers["x-request-id"])
    assert line["trace_id"] == CLIENT_TRACE == format_trace_id(request.context.trace_id)
    (row,) = traced.rows.rows
    assert row.trace_id == CLIENT_TRACE and row.id == response.headers["x-request-id"]


def test_without_a_client_traceparent_the_gateway_starts_the_trace(traced, fake_openai):
    assert _post(traced.server, "/v1/audio/speech", traceparent=None, json=SPEECH).status_code == 200
    (request,) = _by_kind(_finished(traced.spans), SpanKind.SERVER)
    (attempt,) = _by_kind(_finished(traced.spans), SpanKind.CLIENT)
    assert request.parent is None
    trace_id = format_trace_id(request.context.trace_id)
    sent = fake_openai.requests[0].headers["traceparent"]
    assert sent[:-2] == f"00-{trace_id}-{format_span_id(attempt.context.span_id)}-"
    assert int(sent[-2:], 16) & 0x01                           # sampled
    assert traced.rows.rows[0].trace_id == trace_id


def test_a_malformed_traceparent_is_ignored_not_trusted(traced, fake_openai):
    assert _post(traced.server, "/v1/audio/speech", traceparent="00-zzzz-not-a-trace-01", json=SPEECH).status_code == 200
    (request,) = _by_kind(_finished(traced.spans), SpanKind.SERVER)
    assert request.parent is None
    assert "zzzz" not in fake_openai.requests[0].headers["traceparent"]


def test_a_request_the_client_did_not_sample_records_no_span_but_keeps_its_trace_id(traced, fake_openai):
    unsampled = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"
    response = _post(traced.server, "/v1/audio/speech", traceparent=unsampled, json=SPEECH)
    assert response.status_code == 200
    time.sleep(0.2)
    assert traced.spans.get_finished_spans() == ()
    sent = fake_openai.requests[0].headers["traceparent"]
    assert sent.startswith(f"00-{CLIENT_TRACE}-") and sent.endswith("-00")       # passed on, not sampled
    assert traced.rows.rows[0].trace_id == CLIENT_TRACE


def test_provider_reported_tokens_are_gen_ai_usage(traced):
    body = {"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "Tokens, please.", "instructions": "Calmly."}
    with httpx.stream("POST", f"{traced.server.url}/v1/audio/speech", json=body, headers=AUTH, timeout=10) as response:
        assert response.status_code == 200
        response.read()
    (request,) = _by_kind(_finished(traced.spans), SpanKind.SERVER)
    (row,) = traced.rows.rows
    reported = speech_usage(body["input"], body["instructions"], 0.5)
    assert request.attributes["gen_ai.usage.input_tokens"] == reported["input_tokens"] == row.input_tokens
    assert request.attributes["gen_ai.usage.output_tokens"] == reported["output_tokens"] == row.output_tokens
    assert request.attributes["audio_gateway.cost_usd"] == str(row.cost_usd)
    assert request.attributes["audio_gateway.billed_units.output_token"] == reported["output_tokens"]


def test_a_transcription_that_every_provider_fails_is_an_error_trace(traced, fake_openai, fake_siliconflow):
    fake_openai.inject(Fault.HTTP_500, path="/v1/audio/transcriptions")
    fake_siliconflow.inject(Fault.HTTP_502, path="/v1/audio/transcriptions")
    response = _post(traced.server, "/v1/audio/transcriptions", data={"model": "whisper-1"},
                     files={"file": ("a.wav", make_wav(1.0), "audio/wav")})
    assert response.status_code == 502
    spans = _finished(traced.spans)
    (request,) = _by_kind(spans, SpanKind.SERVER)
    attempts = _by_kind(spans, SpanKind.CLIENT)
    assert request.status.status_code == StatusCode.ERROR
    assert request.attributes["http.response.status_code"] == 502
    assert request.attributes["gen_ai.operation.name"] == "speech_to_text"
    assert request.attributes["audio_gateway.status"] == "failed" and "gen_ai.response.model" not in request.attributes
    assert [(a.attributes["gen_ai.provider.name"], a.attributes["http.response.status_code"]) for a in attempts] == [
        ("openai", 500), ("siliconflow", 502)]
    assert all(a.attributes["gen_ai.operation.name"] == "speech_to_text" for a in attempts)


def test_probes_and_refusals_make_no_attempt_spans(traced):
    assert httpx.get(f"{traced.server.url}/healthz").status_code == 200
    assert httpx.get(f"{traced.server.url}/readyz").status_code == 200
    assert _post(traced.server, "/v1/audio/speech", json={**SPEECH, "model": "nope"}).status_code == 404
    spans = _finished(traced.spans)
    assert [(s.kind, s.attributes["http.response.status_code"]) for s in spans] == [(SpanKind.SERVER, 404)]


def test_with_tracing_off_nothing_is_traced_or_forwarded(gateway, fake_openai, caplog):
    """The session gateway has no OTEL_* set: no traceparent goes upstream, no trace id is logged."""
    caplog.set_level(logging.INFO, logger="audio_gateway.access")
    response = _post(gateway, "/v1/audio/speech", json=SPEECH)
    assert response.status_code == 200
    assert "traceparent" not in fake_openai.requests[-1].headers
    (line,) = _access_lines(caplog, response.headers["x-request-id"])
    assert "trace_id" not in line and line["status"] == 200
    assert gateway.app.state.telemetry.tracing is None


@pytest.mark.parametrize(("env", "enabled"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
])
def test_tracing_is_on_exactly_when_an_otlp_endpoint_is_set(env, enabled):
    assert TracingSettings.from_env(env).enabled is enabled


def test_an_otlp_protocol_the_gateway_cannot_speak_is_refused_clearly():
    with pytest.raises(SettingsError, match="OTEL_EXPORTER_OTLP_PROTOCOL 'grpc' is not supported"):
        Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
