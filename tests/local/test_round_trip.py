"""No provider keys at all: tts-1 and whisper-1 are served by the local engines, through the OpenAI SDK."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest

from ..conftest import CLIENT_KEYS
from .conftest import FOX, PASSAGE, decoded_seconds, word_error_rate

FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
                 "wav": "audio/wav", "pcm": "audio/pcm"}


@pytest.fixture(scope="module")
def fox_wav(local_gateway) -> bytes:
    with httpx.Client(base_url=local_gateway.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"},
                      timeout=60) as http:
        response = http.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": FOX,
                                                        "response_format": "wav"})
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.parametrize("fmt", FORMATS)
def test_speech_in_every_format_is_real_audio_of_plausible_length(local_sdk, fmt):
    response = local_sdk.audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input=FOX,
                                                               response_format=fmt)
    seconds = decoded_seconds(response.content, fmt)
    # Nine words at eSpeak's 175 words a minute: about three seconds.
    assert 1.5 < seconds < 6.0, seconds
    headers = response.headers
    assert headers["content-type"] == CONTENT_TYPES[fmt]
    assert (headers["x-gateway-model"], headers["x-gateway-provider"]) == ("local/espeak-ng", "local")
    assert headers["x-gateway-attempts"] == "1"          # openai and cosyvoice were skipped without a call (no key)
    assert Decimal(headers["x-gateway-cost-usd"]) == 0
    assert (headers["x-gateway-billing-unit"], headers["x-gateway-billing-quantity"]) == ("character", str(len(FOX)))


def test_speed_changes_the_length(local_sdk):
    slow, fast = (decoded_seconds(local_sdk.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=FOX, response_format="wav", speed=speed).content, "wav")
        for speed in (0.5, 2.0))
    assert slow > 2.5 * fast


def test_transcribing_the_speech_gives_back_most_words(local_sdk, fox_wav):
    raw = local_sdk.audio.transcriptions.with_raw_response.create(model="whisper-1", file=("fox.wav", fox_wav))
    assert (raw.headers["x-gateway-model"], raw.headers["x-gateway-provider"]) == ("local/whisper-tiny", "local")
    assert Decimal(raw.headers["x-gateway-cost-usd"]) == 0
    assert raw.headers["x-gateway-billing-unit"] == "second" and int(raw.headers["x-gateway-billing-quantity"]) >= 2
    text = raw.parse().text
    assert word_error_rate(FOX, text) <= 0.5, text


def test_srt_of_a_passage_has_increasing_timestamps(local_sdk):
    audio = local_sdk.audio.speech.create(model="tts-1", voice="alloy", input=PASSAGE, response_format="mp3").content
    srt = local_sdk.audio.transcriptions.create(model="whisper-1", file=("passage.mp3", audio), response_format="srt")
    stamps = re.findall(r"(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)", srt)
    assert len(stamps) >= 2, srt
    cues = [(_ms(*s[:4]), _ms(*s[4:])) for s in stamps]
    for (start, end), (next_start, _) in zip(cues, cues[1:] + [(cues[-1][1], 0)]):
        assert start < end <= next_start, cues
    assert word_error_rate(PASSAGE, re.sub(r"^\d+$|^.*-->.*$", "", srt, flags=re.M)) <= 0.5, srt


def _ms(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def test_verbose_json_has_language_segments_and_words(local_sdk, fox_wav):
    result = local_sdk.audio.transcriptions.create(model="whisper-1", file=("fox.wav", fox_wav),
                                                   response_format="verbose_json", timestamp_granularities=["word", "segment"])
    assert result.language == "english"
    assert 2.0 < result.duration < 6.0
    assert result.segments and result.segments[0].start == 0.0 and result.segments[-1].end <= result.duration + 0.1
    starts = [w.start for w in result.words]
    assert len(result.words) >= 6 and starts == sorted(starts)
    assert all(w.start <= w.end for w in result.words)


def test_prompt_is_honoured(local_sdk, fox_wav):
    """Whisper's initial prompt steers spelling: a prompt full of a made-up word makes it appear."""
    plain = local_sdk.audio.transcriptions.create(model="local/whisper-tiny", file=("fox.wav", fox_wav))
    prompted = local_sdk.audio.transcriptions.create(model="local/whisper-tiny", file=("fox.wav", fox_wav),
                                                     prompt="Brownfox, Brownfox. The quick Brownfox.")
    assert "Brownfox" not in plain.text
    assert "Brownfox" in prompted.text, prompted.text


def test_translation_is_not_claimed_by_the_english_only_model(local_gateway, fox_wav):
    """The bundled tiny.en cannot translate: whisper-1 translations skip it (recorded), not half-serve it."""
    with httpx.Client(base_url=local_gateway.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"},
                      timeout=60) as http:
        response = http.post("/v1/audio/translations", data={"model": "whisper-1"}, files={"file": ("f.wav", fox_wav)})
    assert response.status_code == 503, response.text
    attempts = response.json()["error"]["attempts"]
    assert [(a["model"], a["outcome"]) for a in attempts] == [
        ("openai/whisper-1", "not_configured"), ("alibaba/sensevoice-small", "not_configured"),
        ("local/whisper-tiny", "unsupported")]
