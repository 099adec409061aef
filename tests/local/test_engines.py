"""The engines without the gateway: every catalog voice exists, speed maps to a rate, encoding streams."""

from __future__ import annotations

import io

import av
import pytest
import yaml

from audio_gateway.providers.local.encode import ENCODINGS, OUTPUT_RATE, encode_stream
from audio_gateway.providers.local.engines.espeak import EspeakEngine, UnknownVoice, bundled_espeak, words_per_minute

from ..support.server_thread import CATALOG_DIR
from .conftest import FOX, PASSAGE


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    return EspeakEngine(bundled_espeak())


def test_every_voice_of_the_espeak_voice_set_exists(espeak):
    voice_set = yaml.safe_load((CATALOG_DIR / "voices.yaml").read_text())["voice_sets"]["espeak-ng"]
    for voice in voice_set["voices"]:
        assert sum(len(chunk) for chunk in espeak.synthesize("Hi.", voice)) > 1000, voice
    assert set(voice_set["map"].values()) <= set(voice_set["voices"])
    with pytest.raises(UnknownVoice):
        list(espeak.synthesize("Hi.", "no-such-voice"))


@pytest.mark.parametrize("speed, wpm", [(None, 175), (1.0, 175), (2.0, 350), (0.5, 88), (0.25, 80), (4.0, 450)])
def test_speed_maps_to_words_per_minute_within_espeak_range(speed, wpm):
    assert words_per_minute(speed) == wpm


def test_long_text_is_synthesised_and_encoded_piece_by_piece(espeak):
    pcm = list(espeak.synthesize(PASSAGE * 6, "en-us"))
    assert len(pcm) >= 3                                   # clauses come out as they are made
    chunks = list(encode_stream(iter(pcm), espeak.sample_rate, "mp3"))
    assert len(chunks) >= 3 and all(chunks)


@pytest.mark.parametrize("fmt", list(ENCODINGS))
def test_every_format_decodes_at_openai_rates(espeak, fmt):
    data = b"".join(encode_stream(espeak.synthesize(FOX, "en-us"), espeak.sample_rate, fmt))
    if fmt == "pcm":
        seconds = len(data) / 2 / OUTPUT_RATE
    else:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            assert stream.sample_rate == (48_000 if fmt == "opus" else OUTPUT_RATE)
            assert stream.codec_context.layout.nb_channels == 1
            seconds = sum(f.samples for f in container.decode(stream)) / stream.sample_rate
    assert 1.5 < seconds < 6.0
    if fmt == "wav":
        assert data[4:8] == b"\xff\xff\xff\xff"            # streamed sizes, as OpenAI sends them
