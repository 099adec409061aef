"""Usage is always learnt (issue 20): provider-reported tokens billed whatever the client asked, honest headers.

gpt-4o-mini-tts reports tokens only in its SSE `speech.audio.done`; the gateway asks for SSE even when the
client wants raw audio, unwraps it, and settles the cost when the stream ends. Instructions are billed as
the text input tokens OpenAI counts them as. A provider that reports nothing gets the catalog's estimate,
marked as such — never $0.
"""

from __future__ import annotations

import io
import json
import logging
import math
from decimal import Decimal

import av
import pytest

from audio_gateway.billing import count_tokens

from .test_speech import access_line

INPUT = "Read this aloud, please."
PRICE_IN, PRICE_OUT = Decimal("0.60"), Decimal(12)


def tokens(text: str) -> int:
    return count_tokens(text, "o200k_base")


def expected_cost(input_tokens: int, output_tokens: int) -> Decimal:
    return (Decimal(input_tokens) * PRICE_IN + Decimal(output_tokens) * PRICE_OUT) / 1_000_000


@pytest.fixture
def access(caplog):
    caplog.set_level(logging.INFO, logger="audio_gateway.access")
    return lambda request_id: access_line(caplog, lambda line: line["request_id"] == request_id)


@pytest.mark.parametrize("fmt", ["mp3", "wav", "pcm"])
def test_raw_audio_clients_are_billed_the_output_tokens_the_provider_reported(client, fake_openai, access, fmt):
    response = client.post("/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "voice": "coral", "input": INPUT,
                                                     "response_format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"] != "text/event-stream"  # the client gets plain audio...
    assert fake_openai.requests[0].json["stream_format"] == "sse"  # ...the gateway asked for the usage events
    if fmt == "pcm":
        assert len(response.content) == round(fake_openai.audio_seconds * 24000) * 2
    else:
        with av.open(io.BytesIO(response.content)) as container:
            assert sum(frame.samples for frame in container.decode(audio=0)) > 0
    assert response.headers["x-gateway-cost-final"] == "false"
    assert response.headers["x-gateway-cost-pending"] == "input_token,output_token"
    # What was known when the headers left: the input tokens, counted offline; output still pending.
    assert Decimal(response.headers["x-gateway-cost-usd"]) == expected_cost(tokens(INPUT), 0)
    output_tokens = math.ceil(fake_openai.audio_seconds * 20)  # what the fake reports
    line = access(response.headers["x-request-id"])
    assert Decimal(line["cost_usd"]) == expected_cost(tokens(INPUT), output_tokens)
    assert line["upstream_usage"] == {"input_token": tokens(INPUT), "output_token": output_tokens}
    assert "cost_estimated" not in line


def test_instructions_are_billed_as_the_input_tokens_they_are(client, fake_openai, access):
    instructions = ("Speak slowly, with a warm and patient voice, as if reading to a child at bedtime. " * 620)[:50_000]
    response = client.post("/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "voice": "coral", "input": INPUT,
                                                     "instructions": instructions})
    assert response.status_code == 200
    billed_in = tokens(INPUT) + tokens(instructions)
    assert billed_in > 5_000
    assert response.headers["x-gateway-billing-unit"] == "input_token"
    assert response.headers["x-gateway-billing-quantity"] == str(billed_in)
    line = access(response.headers["x-request-id"])
    assert Decimal(line["cost_usd"]) == expected_cost(billed_in, math.ceil(fake_openai.audio_seconds * 20))


def test_a_provider_that_reports_no_usage_is_billed_the_catalog_estimate_marked_estimated(client, fake_openai, access):
    fake_openai.report_usage = False
    with client.stream("POST", "/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "voice": "coral", "input": INPUT,
                                                         "stream_format": "sse"}) as response:
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    estimate = math.ceil(len(INPUT) * Decimal("1.4"))  # catalog: output_token estimate 1.4 x characters
    done = events[-1]
    assert done["type"] == "speech.audio.done"
    assert done["usage"] == {"input_tokens": tokens(INPUT), "output_tokens": estimate,
                             "total_tokens": tokens(INPUT) + estimate}
    assert Decimal(done["cost_usd"]) == expected_cost(tokens(INPUT), estimate) > expected_cost(tokens(INPUT), 0)
    line = access(response.headers["x-request-id"])
    assert line["cost_estimated"] is True and Decimal(line["cost_usd"]) == Decimal(done["cost_usd"])


def test_every_other_response_says_its_cost_is_final(client):
    response = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": INPUT})
    assert response.headers["x-gateway-cost-final"] == "true" and "x-gateway-cost-pending" not in response.headers
    from ..audio_samples import make_wav

    stt = client.post("/v1/audio/transcriptions", data={"model": "whisper-1"},
                      files={"file": ("a.wav", make_wav(1.0), "audio/wav")})
    assert stt.headers["x-gateway-cost-final"] == "true" and "x-gateway-cost-pending" not in stt.headers
