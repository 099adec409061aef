"""The local provider's tests: a gateway with NO provider keys, so every request is served on this machine.

One gateway per session (its pools load eSpeak and the tiny Whisper model once, on first use); the
shipped catalog with the local provider switched on and the catalog's own local timeouts (no
AUDIO_GATEWAY_UPSTREAM_TIMEOUT, which would cut inference to 0.5 s).
"""

from __future__ import annotations

import io
import re

import av
import openai
import pytest

from ..conftest import CLIENT_KEYS, provider_env
from ..support.server_thread import GatewayServer

FOX = "The quick brown fox jumps over the lazy dog."
# Several sentences: about 15 s of speech, enough for Whisper to cut more than one segment.
PASSAGE = ("The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step. "
           "Every morning the baker opens his shop at six and sells fresh bread to the neighbours. "
           "On Sundays the market is closed, so the streets are quiet until noon.")

# About 30 s of speech and no repeated sentence (repetition sends Whisper into its slow temperature fallback).
CLIP_30S = ("Speech recognition has come a long way. Early systems could only understand a few digits spoken by a "
            "single person. Today, models trained on hundreds of thousands of hours of audio transcribe meetings, "
            "lectures and podcasts in many languages. They still make mistakes with names, numbers and noisy rooms, "
            "so a careful reader checks the transcript. The gateway falls back to a small local model when the "
            "cloud providers cannot be reached. It is slower and less accurate, but the service keeps answering.")


def local_env(fake_openai, fake_siliconflow, **overrides: str) -> dict[str, str]:
    settings = {"OPENAI_API_KEY": "", "SILICONFLOW_API_KEY": "", "AUDIO_GATEWAY_LOCAL": "on",
                "AUDIO_GATEWAY_UPSTREAM_TIMEOUT": "", **overrides}
    return provider_env(fake_openai, fake_siliconflow, **settings)


@pytest.fixture(scope="session")
def local_gateway(fake_openai, fake_siliconflow):
    server = GatewayServer(local_env(fake_openai, fake_siliconflow)).start()
    yield server
    server.stop()


@pytest.fixture
def local_sdk(local_gateway):
    with openai.OpenAI(base_url=f"{local_gateway.url}/v1", api_key=CLIENT_KEYS["alice"], max_retries=0,
                       timeout=60) as client:
        yield client


def decoded_seconds(data: bytes, fmt: str) -> float:
    """Seconds of audio in `data` as PyAV decodes it (raw pcm: 24 kHz s16le, OpenAI's)."""
    if fmt == "pcm":
        assert len(data) % 2 == 0
        return len(data) / 2 / 24_000
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.sample_rate


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over lower-cased words, divided by the reference's word count."""
    ref, hyp = (re.findall(r"[a-z0-9']+", text.lower()) for text in (reference, hypothesis))
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[len(hyp)] / len(ref)
