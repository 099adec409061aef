"""`stream=True` on /v1/audio/transcriptions, end to end with the official SDK (issue 15).

Every STT model in the catalog streams: gpt-4o-*-transcribe pass OpenAI's own events through (re-framed
by the gateway), whisper-1 and SenseVoice get events the gateway cuts from the finished transcript, so the
client's loop is the same whichever model served, fallback included. Billing comes from the done event's
usage and is exact: the done event's `cost_usd`, the ledger row, the access line and (for non-streamed
requests) the headers all carry the same Decimal. A provider cut after the first event ends the stream
with an error event the SDK raises, never a hang, and the row says `upstream_cut`.
"""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal

import openai
import pytest

from audio_gateway.billing import count_tokens
from audio_gateway.catalog import load_plan
from audio_gateway.catalog.model import SttModel
from audio_gateway.providers import ADAPTERS

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS, keyed_client, provider_env
from ..fakes import DEFAULT_TRANSCRIPT, Fault, transcription_token_usage
from ..support.ledger_capture import capture_rows
from ..support.server_thread import CATALOG_DIR, GatewayServer
from .test_speech import access_line

# The suite's cloud catalog (the local models have tests of their own); virtual models only route to these.
PLAN = load_plan(CATALOG_DIR, {"AUDIO_GATEWAY_LOCAL": "off"}, ADAPTERS.keys())
STT = [m for m in PLAN.models if isinstance(m, SttModel) and not m.virtual]
STT_IDS = [m.id for m in STT]
NATIVE = {m.id for m in STT if m.capabilities.upstream_streaming}
# $ per 1M tokens: audio in, text in, text out (catalog/models/stt.yaml, OpenAI's list prices)
TOKEN_PRICES = {"openai/gpt-4o-transcribe": (6, Decimal("2.5"), 10),
                "openai/gpt-4o-mini-transcribe": (3, Decimal("1.25"), 5),
                "openai/gpt-4o-transcribe-diarize": (6, Decimal("2.5"), 10)}
SECONDS = 2.0


def wav(seconds: float = SECONDS) -> tuple[str, bytes, str]:
    return ("speech.wav", make_wav(seconds), "audio/wav")


def token_cost(model: str, usage: dict) -> Decimal:
    audio, text, out = TOKEN_PRICES[model]
    details = usage["input_token_details"]
    return (details["audio_tokens"] * audio + details["text_tokens"] * text + usage["output_tokens"] * out) / Decimal(
        1_000_000)


@pytest.fixture(scope="module")
def booked(fake_openai, fake_siliconflow):
    """A gateway of its own whose ledger rows the tests read."""
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow)).start()
    rows = capture_rows(server)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=CLIENT_KEYS["alice"], max_retries=0, timeout=10)
    with client, keyed_client(server.url, "alice") as http:
        yield client, http, rows
    server.stop()


@pytest.fixture
def access(caplog):
    caplog.set_level(logging.INFO, logger="audio_gateway.access")
    return lambda request_id: access_line(caplog, lambda line: line["request_id"] == request_id)


def stream(sdk: openai.OpenAI, model: str, **fields):
    """(headers, events) of one streamed transcription through the SDK, iterated to its end."""
    raw = sdk.audio.transcriptions.with_raw_response.create(model=model, file=wav(), stream=True, **fields)
    return raw.headers, list(raw.parse())


def test_the_streams_cover_the_shipped_catalog():
    """The parametrisation is read from catalog/; which models stream natively is pinned here."""
    assert {"openai/whisper-1", "alibaba/sensevoice-small", *NATIVE} == set(STT_IDS)
    assert {"openai/gpt-4o-transcribe", "openai/gpt-4o-mini-transcribe", "openai/gpt-4o-transcribe-diarize"} == NATIVE


@pytest.mark.parametrize("model", STT_IDS)
def test_every_stt_model_streams_through_the_sdk(booked, fake_openai, fake_siliconflow, model, access):
    sdk, _, rows = booked
    headers, events = stream(sdk, model)
    *deltas, done = events
    assert {e.type for e in deltas} == {"transcript.text.delta"} and done.type == "transcript.text.done"
    assert "".join(e.delta for e in deltas) == done.text == DEFAULT_TRANSCRIPT
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["x-gateway-model"] == model and headers["x-gateway-attempts"] == "1"
    row = rows.row(headers["x-request-id"])
    assert (row.status, row.model_served, row.cost_final) == ("completed", model, True)
    assert Decimal(done.model_extra["cost_usd"]) == row.cost_usd == Decimal(access(headers["x-request-id"])["cost_usd"])
    if model in NATIVE:
        (sent,) = fake_openai.requests
        assert sent.form["stream"] == "true"  # OpenAI's own events, passed through
        assert len(deltas) == len(DEFAULT_TRANSCRIPT.split())
        fake_usage = transcription_token_usage(DEFAULT_TRANSCRIPT, None, SECONDS)
        assert done.usage.model_dump(exclude_none=True) == fake_usage
        assert headers["x-gateway-cost-final"] == "false"
        assert headers["x-gateway-cost-pending"] == "audio_input_token,input_token,output_token"
        assert row.cost_usd == token_cost(model, fake_usage)
        assert (row.audio_input_tokens, row.input_tokens, row.output_tokens) == (20, 0, 10)
    else:
        upstream = fake_openai if model == "openai/whisper-1" else fake_siliconflow
        assert "stream" not in upstream.requests[0].form  # the gateway made the events
        assert done.usage.model_dump(exclude_none=True) == {"type": "duration", "seconds": 2}
        assert headers["x-gateway-cost-final"] == "true" and "x-gateway-cost-pending" not in headers
        assert Decimal(headers["x-gateway-cost-usd"]) == row.cost_usd == Decimal("0.0002")


@pytest.mark.parametrize("model", STT_IDS)
@pytest.mark.parametrize("fields", [{}, {"response_format": "diarized_json"}, {"include[]": "logprobs"}],
                         ids=["plain", "diarized_json", "logprobs"])
def test_event_stream_bytes_are_pinned(booked, model, fields, snapshot):
    """The wire body as sent, key order included, for every model and each event variant it can produce."""
    _, http, _ = booked
    response = http.post("/v1/audio/transcriptions", files={"file": wav()},
                         data={"model": model, "stream": "true", **fields})
    if response.status_code == 400:  # the variant is not this model's (diarized_json, logprobs)
        assert response.json()["error"]["param"] in ("response_format", "include")
        return
    assert response.status_code == 200, response.text
    assert response.text == snapshot


@pytest.mark.parametrize("fault", [Fault.HTTP_500, Fault.HTTP_429, Fault.RESET, Fault.HANG, Fault.MALFORMED])
def test_a_failure_before_the_first_event_falls_back_with_the_same_events(booked, fake_openai, fault):
    sdk, _, rows = booked
    fake_openai.inject(fault)
    headers, events = stream(sdk, "gpt-4o-transcribe")
    assert headers["x-gateway-model"] == "openai/whisper-1" and headers["x-gateway-attempts"] == "2"
    assert [e.type for e in events] == ["transcript.text.delta"] * 2 + ["transcript.text.done"]
    assert "".join(e.delta for e in events[:-1]) == events[-1].text == DEFAULT_TRANSCRIPT
    row = rows.row(headers["x-request-id"])
    assert row.fell_back and [a.outcome for a in row.attempt_outcomes][-1] == "ok"
    assert row.cost_usd == Decimal("0.0002") and [line.unit for line in row.lines] == ["second"]


def test_with_openai_down_sensevoice_serves_the_stream(booked, fake_openai):
    sdk, _, _ = booked
    fake_openai.inject(Fault.HTTP_503, times=2)
    headers, events = stream(sdk, "gpt-4o-mini-transcribe")
    assert (headers["x-gateway-model"], headers["x-gateway-attempts"]) == ("alibaba/sensevoice-small", "3")
    assert [e.type for e in events] == ["transcript.text.delta", "transcript.text.done"]


@pytest.mark.parametrize("fault", [Fault.RESET_MID_STREAM, Fault.STALL_MID_STREAM])
def test_a_provider_cut_after_the_first_event_ends_the_stream_with_an_error_event(booked, fake_openai, fault, access):
    sdk, _, rows = booked
    fake_openai.inject(fault)
    received = []
    started = time.monotonic()
    raw = sdk.audio.transcriptions.with_raw_response.create(model="gpt-4o-transcribe", file=wav(), stream=True)
    with pytest.raises(openai.APIError) as caught:
        for event in raw.parse():  # noqa: PERF402 - the loop is what is being tested
            received.append(event)
    assert time.monotonic() - started < 5  # no hang: a stall is cut at the read timeout (0.5 s here)
    assert [e.model_dump(exclude_none=True) for e in received] == [{"type": "transcript.text.delta", "delta": "Hello"}]
    assert caught.value.body["code"] == "upstream_cut" and caught.value.body["type"] == "upstream_error"
    assert raw.headers["x-gateway-model"] == "openai/gpt-4o-transcribe"  # committed: no fallback after an event
    row = rows.row(raw.headers["x-request-id"])
    assert row.status == "upstream_cut" and row.fell_back is False
    # Nothing was reported: the catalog's estimates (10 audio + 4 output tokens a second), marked as such.
    assert {line.unit: (line.quantity, line.estimated) for line in row.lines} == {
        "audio_input_token": (20, True), "input_token": (0, False), "output_token": (8, True)}
    line = access(raw.headers["x-request-id"])
    assert line["ledger"] == "upstream_cut" and "stream_error" in line
    fake_openai.release()


def test_the_raw_event_stream_is_openais_framing(booked):
    _, http, _ = booked
    response = http.post("/v1/audio/transcriptions", files={"file": wav()},
                         data={"model": "gpt-4o-transcribe", "stream": "true"})
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    blocks = response.text.split("\n\n")
    assert blocks[-1] == "" and blocks[-2] == "data: [DONE]"
    assert all(block.startswith("data: {") for block in blocks[:-2])
    assert json.loads(blocks[-3][6:])["type"] == "transcript.text.done"


PROMPT = "Zürich, Genève & São Paulo"


def test_tokens_billed_exactly_as_the_provider_reported_them_not_as_counted(booked, fake_openai, access):
    sdk, _, rows = booked
    raw = sdk.audio.transcriptions.with_raw_response.create(model="gpt-4o-transcribe", file=wav(), prompt=PROMPT)
    body = raw.parse()
    reported = transcription_token_usage(DEFAULT_TRANSCRIPT, PROMPT, SECONDS)
    assert reported["input_token_details"]["text_tokens"] != count_tokens(PROMPT, "o200k_base")  # the report wins
    assert body.usage.model_dump(exclude_none=True) == reported
    expected = token_cost("openai/gpt-4o-transcribe", reported)
    assert raw.headers["x-gateway-cost-final"] == "true"
    assert Decimal(raw.headers["x-gateway-cost-usd"]) == expected
    assert raw.headers["x-gateway-billing-unit"] == "audio_input_token"
    assert raw.headers["x-gateway-billing-quantity"] == str(reported["input_token_details"]["audio_tokens"])
    row = rows.row(raw.headers["x-request-id"])
    assert row.cost_usd == expected == Decimal(access(raw.headers["x-request-id"])["cost_usd"])
    assert {line.unit: line.quantity for line in row.lines} == {
        "audio_input_token": 20, "input_token": reported["input_token_details"]["text_tokens"], "output_token": 10}
    assert fake_openai.requests[0].form["prompt"] == PROMPT


def test_streamed_tokens_with_a_prompt_settle_at_the_end(booked):
    sdk, _, rows = booked
    headers, events = stream(sdk, "gpt-4o-mini-transcribe", prompt=PROMPT)
    reported = transcription_token_usage(DEFAULT_TRANSCRIPT, PROMPT, SECONDS)
    # While the headers left, only the prompt's own count was known: o200k tokens at $1.25 / 1M.
    assert Decimal(headers["x-gateway-cost-usd"]) == count_tokens(PROMPT, "o200k_base") * Decimal("1.25") / 1_000_000
    expected = token_cost("openai/gpt-4o-mini-transcribe", reported)
    assert Decimal(events[-1].model_extra["cost_usd"]) == expected == rows.row(headers["x-request-id"]).cost_usd


def test_a_stream_whose_provider_reports_no_usage_is_billed_the_estimate(booked, fake_openai):
    sdk, _, rows = booked
    fake_openai.report_usage = False
    headers, events = stream(sdk, "gpt-4o-transcribe")
    done = events[-1]
    assert done.usage.model_dump(exclude_none=True) == {
        "type": "tokens", "input_tokens": 20, "input_token_details": {"text_tokens": 0, "audio_tokens": 20},
        "output_tokens": 8, "total_tokens": 28}
    row = rows.row(headers["x-request-id"])
    assert row.cost_usd == Decimal(done.model_extra["cost_usd"]) == (20 * 6 + 8 * 10) / Decimal(1_000_000)
    assert [line.estimated for line in row.lines] == [True, False, True]


def test_fallback_from_a_token_model_bills_seconds_and_says_so(booked, fake_openai):
    _, http, _ = booked
    fake_openai.inject(Fault.HTTP_500)
    response = http.post("/v1/audio/transcriptions", files={"file": wav()}, data={"model": "gpt-4o-transcribe"})
    assert response.headers["x-gateway-model"] == "openai/whisper-1"
    assert response.json()["usage"] == {"type": "duration", "seconds": 2}
    assert response.headers["x-gateway-billing-unit"] == "second"


def test_translations_do_not_stream(client, fake_openai):
    response = client.post("/v1/audio/translations", files={"file": wav()}, data={"model": "whisper-1", "stream": "true"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "stream"
    assert fake_openai.hits == 0
