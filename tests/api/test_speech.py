"""POST /v1/audio/speech end to end: gateway ↔ fake providers over real loopback HTTP."""

from __future__ import annotations

import io
import json
import logging
import time
from decimal import Decimal

import av
import httpx
import openai
import pytest

from audio_gateway.billing import count_tokens

from ..conftest import CLIENT_KEYS, OPENAI_KEY, SILICONFLOW_KEY
from ..fakes import Fault

TTS_MODELS = [
    # model, provider, upstream model, billing unit
    ("openai/tts-1", "openai", "tts-1", "character"),
    ("openai/tts-1-hd", "openai", "tts-1-hd", "character"),
    ("openai/gpt-4o-mini-tts", "openai", "gpt-4o-mini-tts", "input_token"),
    ("alibaba/cosyvoice2-0.5b", "siliconflow", "FunAudioLLM/CosyVoice2-0.5B", "utf8_byte"),
    ("fishaudio/fish-speech-1.5", "siliconflow", "fishaudio/fish-speech-1.5", "utf8_byte"),
    ("indexteam/indextts-2", "siliconflow", "IndexTeam/IndexTTS-2", "utf8_byte"),
]


def decodes_as_audio(data: bytes) -> float:
    """Seconds of audio PyAV decodes from `data` (fails the test if it is not audio)."""
    with av.open(io.BytesIO(data)) as container:
        frames = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].sample_rate
    assert frames > 0
    return frames / rate


def fake_for(provider: str, fake_openai, fake_siliconflow):
    return fake_openai if provider == "openai" else fake_siliconflow


@pytest.mark.parametrize("model, provider, upstream, unit", TTS_MODELS)
def test_every_tts_model_through_the_sdk(sdk, fake_openai, fake_siliconflow, model, provider, upstream, unit):
    response = sdk.audio.speech.with_raw_response.create(model=model, voice="alloy", input="Hello there, world.")
    audio = response.content
    assert decodes_as_audio(audio) > 0.1
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["x-gateway-model"] == model
    assert response.headers["x-gateway-provider"] == provider
    assert response.headers["x-gateway-attempts"] == "1"
    assert response.headers["x-gateway-billing-unit"] == unit
    assert response.headers["x-request-id"]
    (upstream_request,) = fake_for(provider, fake_openai, fake_siliconflow).requests
    assert upstream_request.json["model"] == upstream
    assert upstream_request.headers["authorization"] == f"Bearer {OPENAI_KEY if provider == 'openai' else SILICONFLOW_KEY}"


@pytest.mark.parametrize("alias", ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"])
def test_bare_openai_names_resolve_to_catalog_ids(sdk, fake_openai, alias):
    response = sdk.audio.speech.with_raw_response.create(model=alias, voice="nova", input="Alias check.")
    assert response.headers["x-gateway-model"] == f"openai/{alias}"
    assert fake_openai.requests[0].json["model"] == alias


@pytest.mark.parametrize("fmt, content_type", [
    ("mp3", "audio/mpeg"), ("opus", "audio/opus"), ("aac", "audio/aac"),
    ("flac", "audio/flac"), ("wav", "audio/wav"), ("pcm", "audio/pcm"),
])
def test_each_response_format_has_its_content_type(client, fmt, content_type):
    response = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "echo", "input": "Format.",
                                                     "response_format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    if fmt == "pcm":
        assert len(response.content) % 2 == 0 and len(response.content) > 1000
    else:
        decodes_as_audio(response.content)


@pytest.mark.parametrize("voice, upstream_voice", [
    ("alloy", "alex"), ("nova", "anna"), ("shimmer", "bella"), ("onyx", "charles"),
    ("anna", "anna"), ("diana", "diana"),            # native names pass through
    ("no-such-voice", "alex"), ({"id": "voice_abc"}, "alex"),  # unknown → the model's default
])
def test_siliconflow_voice_mapping(client, fake_siliconflow, voice, upstream_voice):
    response = client.post("/v1/audio/speech", json={"model": "alibaba/cosyvoice2-0.5b", "voice": voice, "input": "你好"})
    assert response.status_code == 200, response.text
    assert fake_siliconflow.requests[0].json["voice"] == f"FunAudioLLM/CosyVoice2-0.5B:{upstream_voice}"


def test_openai_custom_voice_id_passes_through(client, fake_openai):
    response = client.post("/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "voice": {"id": "voice_123"}, "input": "Hi"})
    assert response.status_code == 200, response.text
    assert fake_openai.requests[0].json["voice"] == {"id": "voice_123"}


BAD_REQUESTS = [
    ({"input": ""}, "input"),
    ({"input": "   "}, "input"),
    ({"input": "x" * 4097}, "input"),
    ({"speed": 4.5}, "speed"),
    ({"speed": 0.1}, "speed"),
    ({"response_format": "ogg"}, "response_format"),
    ({"instructions": "whisper it"}, "instructions"),
    ({"stream_format": "sse"}, "stream_format"),
    ({"voice": "darth"}, "voice"),
    ({"voice": 7}, "voice"),
    ({"input": 42}, "input"),
    ({"model": "alibaba/cosyvoice2-0.5b", "response_format": "aac"}, "response_format"),
    ({"model": "openai/whisper-1"}, "model"),
]


@pytest.mark.parametrize("override, param", BAD_REQUESTS)
def test_invalid_requests_are_400_naming_the_param_before_any_upstream_call(client, fake_openai, fake_siliconflow, override, param):
    body = {"model": "tts-1", "voice": "alloy", "input": "Hello", **override}
    response = client.post("/v1/audio/speech", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fake_openai.hits == 0 and fake_siliconflow.hits == 0


@pytest.mark.parametrize("missing", ["model", "input", "voice"])
def test_missing_required_field(client, missing):
    body = {"model": "tts-1", "voice": "alloy", "input": "Hello"}
    del body[missing]
    response = client.post("/v1/audio/speech", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == missing


def test_unknown_model_is_404_model_not_found(sdk, fake_openai):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.audio.speech.create(model="acme/nope", voice="alloy", input="x")
    assert caught.value.body["code"] == "model_not_found"
    assert fake_openai.hits == 0


def test_malformed_json_is_400(client):
    response = client.post("/v1/audio/speech", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


FALLBACK_FAULTS = [Fault.HTTP_500, Fault.HTTP_502, Fault.HTTP_503, Fault.HTTP_504, Fault.HTTP_429, Fault.HANG,
                   Fault.RESET, Fault.MALFORMED, Fault.HTTP_401, Fault.HTTP_403, Fault.HTTP_404]


@pytest.mark.parametrize("fault", FALLBACK_FAULTS, ids=str)
def test_openai_failure_falls_back_to_cosyvoice_invisibly(sdk, fake_openai, fake_siliconflow, fault):
    fake_openai.inject(fault)
    response = sdk.audio.speech.with_raw_response.create(model="tts-1", voice="nova", input="Fallback, please.")
    assert decodes_as_audio(response.content) > 0
    assert response.headers["x-gateway-model"] == "alibaba/cosyvoice2-0.5b"
    assert response.headers["x-gateway-provider"] == "siliconflow"
    assert response.headers["x-gateway-attempts"] == "2"
    assert response.headers["x-gateway-billing-unit"] == "utf8_byte"
    sf_request = fake_siliconflow.requests[0].json
    assert sf_request["model"] == "FunAudioLLM/CosyVoice2-0.5B"
    assert sf_request["voice"] == "FunAudioLLM/CosyVoice2-0.5B:anna"
    assert sf_request["response_format"] == "mp3"


@pytest.mark.parametrize("fault, status", [(Fault.HTTP_400, 400), (Fault.HTTP_413, 413)])
def test_upstream_client_errors_are_returned_without_fallback(client, fake_openai, fake_siliconflow, fault, status):
    fake_openai.inject(fault)
    response = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Hello"})
    assert response.status_code == status
    assert set(response.json()["error"]) >= {"message", "type", "param", "code"}
    assert fake_siliconflow.hits == 0


def test_siliconflow_error_body_is_mapped_to_openai_shape(client, fake_siliconflow):
    fake_siliconflow.inject(Fault.HTTP_400)
    response = client.post("/v1/audio/speech", json={"model": "alibaba/cosyvoice2-0.5b", "voice": "alloy", "input": "x"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "20012" and error["message"]


def test_exhausted_chain_is_502_listing_every_attempt(client, fake_openai, fake_siliconflow, snapshot):
    fake_openai.inject(Fault.HTTP_500)
    fake_siliconflow.inject(Fault.HTTP_503)
    response = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Hello"})
    assert response.status_code == 502
    body = response.json()
    assert [(a["provider"], a["outcome"], a["status"]) for a in body["error"]["attempts"]] == [
        ("openai", "status", 500), ("siliconflow", "status", 503)]
    assert body == snapshot


def test_all_targets_timing_out_is_504(client, fake_openai, fake_siliconflow):
    fake_openai.inject(Fault.HANG)
    fake_siliconflow.inject(Fault.HANG)
    started = time.perf_counter()
    response = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Hello"})
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert time.perf_counter() - started < 3  # two 0.5 s first-byte deadlines, not minutes


def test_upstream_401_is_never_shown_as_the_clients_auth_error(client, fake_openai):
    fake_openai.inject(Fault.HTTP_401)
    response = client.post("/v1/audio/speech", json={"model": "tts-1-hd", "voice": "alloy", "input": "Hello"})
    assert response.status_code == 502
    assert "refused the gateway's API key" in response.json()["error"]["attempts"][0]["reason"]


def test_first_byte_arrives_long_before_the_last_when_upstream_is_slow(client, fake_openai):
    fake_openai.audio_seconds = 4.0
    fake_openai.chunk_size = 4096
    fake_openai.chunk_delay = 0.02
    started = time.perf_counter()
    with client.stream("POST", "/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Slow",
                                                         "response_format": "wav"}) as response:
        chunks = response.iter_raw()
        first = next(chunks)
        first_at = time.perf_counter() - started
        rest = b"".join(chunks)
        last_at = time.perf_counter() - started
    assert first and rest
    assert last_at > 0.3 and first_at < last_at / 4, (first_at, last_at)
    decodes_as_audio(first + rest)


def test_sdk_streaming_response(sdk):
    with sdk.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input="Streamed.") as response:
        assert response.headers["x-gateway-model"] == "openai/tts-1"
        data = b"".join(response.iter_bytes())
    decodes_as_audio(data)


def access_line(caplog, predicate, timeout: float = 5.0) -> dict:
    """The access line is written just after the last body byte is sent, so the client can finish reading
    a moment before it exists: wait for it rather than race it."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(r.getMessage()) for r in list(caplog.records) if r.name == "audio_gateway.access"]
        found = [line for line in lines if predicate(line)]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no matching access line in {lines}"
        time.sleep(0.01)


def test_sse_passthrough_and_output_tokens_billed(client, fake_openai, caplog):
    caplog.set_level(logging.INFO, logger="audio_gateway.access")
    text = "Tell me a story."
    with client.stream("POST", "/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "voice": "coral", "input": text,
                                                         "stream_format": "sse", "instructions": "warmly"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-gateway-cost-final"] == "false"
        assert response.headers["x-gateway-cost-pending"] == "input_token,output_token"
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    assert events[0]["type"] == "speech.audio.delta" and events[-1]["type"] == "speech.audio.done"
    usage = events[-1]["usage"]
    input_tokens = count_tokens(text, "o200k_base") + count_tokens("warmly", "o200k_base")  # instructions are input
    assert usage["input_tokens"] == input_tokens and usage["total_tokens"] == input_tokens + usage["output_tokens"]
    expected = (Decimal(input_tokens) * Decimal("0.60") + Decimal(usage["output_tokens"]) * 12) / 1_000_000
    line = access_line(caplog, lambda entry: entry.get("model_asked") == "gpt-4o-mini-tts")
    assert Decimal(line["cost_usd"]) == expected == Decimal(events[-1]["cost_usd"])
    assert line["upstream_usage"]["output_token"] == usage["output_tokens"]


NON_ASCII = "Grüße, 世界! 🎧"


@pytest.mark.parametrize("model, unit, quantity, price, per", [
    ("tts-1", "character", len(NON_ASCII), "15", 1_000_000),
    ("tts-1-hd", "character", len(NON_ASCII), "30", 1_000_000),
    ("alibaba/cosyvoice2-0.5b", "utf8_byte", len(NON_ASCII.encode()), "7.15", 1_000_000),
    ("fishaudio/fish-speech-1.5", "utf8_byte", len(NON_ASCII.encode()), "7.15", 1_000_000),
    ("gpt-4o-mini-tts", "input_token", count_tokens(NON_ASCII, "o200k_base"), "0.60", 1_000_000),
])
def test_billing_for_every_unit_with_non_ascii_input(client, model, unit, quantity, price, per):
    response = client.post("/v1/audio/speech", json={"model": model, "voice": "alloy", "input": NON_ASCII})
    assert response.status_code == 200
    assert response.headers["x-gateway-billing-unit"] == unit
    assert response.headers["x-gateway-billing-quantity"] == str(quantity)
    assert Decimal(response.headers["x-gateway-cost-usd"]) == Decimal(quantity) * Decimal(price) / per
    assert len(NON_ASCII) != len(NON_ASCII.encode())  # the two units really differ here


def test_fallback_is_billed_to_the_model_that_served(client, fake_openai):
    fake_openai.inject(Fault.HTTP_503)
    response = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": NON_ASCII})
    assert response.headers["x-gateway-billing-unit"] == "utf8_byte"
    assert Decimal(response.headers["x-gateway-cost-usd"]) == Decimal(len(NON_ASCII.encode())) * Decimal("7.15") / 1_000_000


def test_client_disconnect_cancels_the_upstream_request(client, fake_openai):
    fake_openai.audio_seconds = 10.0
    fake_openai.chunk_size = 2048
    fake_openai.chunk_delay = 0.05
    with client.stream("POST", "/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Long",
                                                         "response_format": "wav"}) as response:
        next(response.iter_raw())
    # the gateway must close its upstream connection soon after the client went away
    assert fake_openai.wait_for_disconnects(1, timeout=2.0)


def test_request_log_names_the_key_and_never_a_secret(client, caplog, fake_openai):
    caplog.set_level(logging.INFO)
    fake_openai.inject(Fault.HTTP_401)
    client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Log me"})
    line = access_line(caplog, lambda entry: entry.get("model_asked") == "tts-1")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert line["key"] == "alice" and line["model_asked"] == "tts-1"
    assert line["model_served"] == "alibaba/cosyvoice2-0.5b" and line["status"] == 200
    assert line["bytes"] > 0 and float(line["cost_usd"]) > 0 and line["latency_ms"] > 0
    for secret in (*CLIENT_KEYS.values(), OPENAI_KEY, SILICONFLOW_KEY):
        assert secret not in text


def test_provider_breaking_off_mid_stream_cuts_the_client_short_and_logs_why(client, fake_openai, caplog):
    """Once the status is sent the failure cannot become an error body: the client must see a truncated
    body (not a clean end), and the operator one access line with the reason, not a traceback."""
    caplog.set_level(logging.INFO)
    fake_openai.inject(Fault.RESET_MID_STREAM)
    with client.stream("POST", "/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Cut me off."}) as r:
        assert r.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            r.read()
        request_id = r.headers["x-request-id"]
    line = access_line(caplog, lambda line: line["request_id"] == request_id)
    assert line["status"] == 200 and line["provider"] == "openai"
    assert line["stream_error"].startswith("connect: openai connection failed")
    assert not [rec for rec in caplog.records if rec.exc_info and rec.name.startswith(("uvicorn", "audio_gateway"))]
