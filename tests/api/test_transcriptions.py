"""POST /v1/audio/transcriptions and /translations end to end, over real loopback HTTP."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import openai
import pytest
from openai.types.audio import Transcription, TranscriptionVerbose

from ..audio_samples import make_audio, make_wav
from ..fakes import Fault

STT_MODELS = [("whisper-1", "openai"), ("alibaba/sensevoice-small", "siliconflow")]
FORMATS = ["json", "text", "srt", "vtt", "verbose_json"]
SRT_CUE = re.compile(r"^\d+\n\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}\n.+$")
VTT_CUE = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}\n.+$")


def wav_upload(seconds: float = 2.0):
    return ("speech.wav", make_wav(seconds), "audio/wav")


@pytest.mark.parametrize("model, provider", STT_MODELS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_from_both_models_via_the_sdk(sdk, model, provider, fmt, snapshot):
    raw = sdk.audio.transcriptions.with_raw_response.create(model=model, file=wav_upload(2.0), response_format=fmt)
    assert raw.headers["x-gateway-provider"] == provider
    parsed = raw.parse()
    if fmt == "json":
        assert isinstance(parsed, Transcription)
        assert parsed.text and parsed.usage.type == "duration" and parsed.usage.seconds == 2
    elif fmt == "verbose_json":
        assert isinstance(parsed, TranscriptionVerbose)
        assert parsed.language == "english" and parsed.duration == pytest.approx(2.0, abs=0.01)
        assert parsed.segments and parsed.segments[0].start == 0.0
        assert parsed.segments[-1].end == pytest.approx(2.0, abs=0.01)
    elif fmt == "text":
        assert isinstance(parsed, str) and parsed.endswith("\n") and not parsed.endswith("\n\n")
    elif fmt == "srt":
        cues = parsed.strip().split("\n\n")
        assert cues and all(SRT_CUE.match(cue) for cue in cues), parsed
    elif fmt == "vtt":
        header, *cues = parsed.strip().split("\n\n")
        assert header == "WEBVTT" and cues and all(VTT_CUE.match(cue) for cue in cues), parsed
    assert raw.http_response.content == snapshot


@pytest.mark.parametrize("fmt", FORMATS)
def test_shapes_are_identical_whichever_provider_served(client, fmt):
    def shape(model):
        response = client.post("/v1/audio/transcriptions", files={"file": wav_upload(3.0)},
                               data={"model": model, "response_format": fmt})
        assert response.status_code == 200, response.text
        return response.headers["content-type"], _structure(response)

    assert shape("whisper-1") == shape("alibaba/sensevoice-small")


def _structure(response):
    """JSON: the nested keys and value types. Text formats: which well-formedness rules hold."""
    text = response.text
    if "json" not in response.headers["content-type"]:
        cues = text.strip().split("\n\n")
        return {
            "ends_with_one_newline": text.endswith("\n") and not text.endswith("\n\n\n"),
            "srt": all(SRT_CUE.match(cue) for cue in cues),
            "vtt": cues[0] == "WEBVTT" and all(VTT_CUE.match(cue) for cue in cues[1:]),
        }

    def keys(value):
        if isinstance(value, dict):
            return {k: keys(v) for k, v in value.items()}
        if isinstance(value, list):
            return [keys(value[0])] if value and isinstance(value[0], dict) else "list"
        return type(value).__name__

    return keys(response.json())


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a", "mp4", "ogg", "webm", "webm_live", "flac", "mpeg"])
def test_uploads_in_every_openai_format_are_probed_and_billed(client, fake_openai, fmt):
    extension = {"webm_live": "webm", "mpeg": "mpeg"}.get(fmt, fmt)
    response = client.post("/v1/audio/transcriptions", data={"model": "whisper-1"},
                           files={"file": (f"clip.{extension}", make_audio(fmt, 2.5), "application/octet-stream")})
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-billing-quantity"] == "3"  # 2.5 s (+ codec padding) rounds up to 3 s
    assert Decimal(response.headers["x-gateway-cost-usd"]) == Decimal("0.0003")


def test_streamed_wav_is_probed_correctly(client):
    response = client.post("/v1/audio/transcriptions", data={"model": "alibaba/sensevoice-small",
                                                             "response_format": "verbose_json"},
                           files={"file": ("live.wav", make_wav(4.0, streamed=True), "audio/wav")})
    assert response.status_code == 200
    assert response.json()["duration"] == pytest.approx(4.0, abs=0.01)


@pytest.mark.parametrize("seconds, billed, cost", [
    (30.0, 30, "0.003"), (1.2, 2, "0.0002"), (0.4, 1, "0.0001"), (61.5, 62, "0.0062"), (120.0, 120, "0.012"),
])
def test_per_minute_price_applied_per_second_rounded_up(client, seconds, billed, cost):
    response = client.post("/v1/audio/transcriptions", data={"model": "alibaba/sensevoice-small"},
                           files={"file": ("a.wav", make_wav(seconds, 8000), "audio/wav")})
    assert response.status_code == 200
    assert response.headers["x-gateway-billing-unit"] == "second"
    assert response.headers["x-gateway-billing-quantity"] == str(billed)
    assert Decimal(response.headers["x-gateway-cost-usd"]) == Decimal(cost)
    assert response.json()["usage"] == {"type": "duration", "seconds": billed}


FALLBACK_FAULTS = [Fault.HTTP_500, Fault.HTTP_503, Fault.HTTP_429, Fault.HANG, Fault.RESET, Fault.MALFORMED,
                   Fault.HTTP_401, Fault.HTTP_404]


@pytest.mark.parametrize("fault", FALLBACK_FAULTS, ids=str)
def test_whisper_failure_falls_back_to_sensevoice_with_the_upload_resent(sdk, fake_openai, fake_siliconflow, fault):
    audio = make_wav(2.5)
    fake_openai.inject(fault)
    raw = sdk.audio.transcriptions.with_raw_response.create(
        model="whisper-1", file=("clip.wav", audio, "audio/wav"), response_format="verbose_json", language="en")
    parsed = raw.parse()
    assert raw.headers["x-gateway-model"] == "alibaba/sensevoice-small"
    assert raw.headers["x-gateway-attempts"] == "2"
    assert parsed.text == fake_siliconflow.transcript_text and parsed.language == "english"
    assert parsed.duration == pytest.approx(2.5, abs=0.01)
    (sf_request,) = fake_siliconflow.requests
    assert sf_request.file.data == audio
    assert sf_request.form["model"] == "FunAudioLLM/SenseVoiceSmall"
    assert set(sf_request.form) == {"model"}  # SiliconFlow takes only file and model


def test_word_timestamps_from_whisper(sdk, fake_openai):
    result = sdk.audio.transcriptions.create(model="whisper-1", file=wav_upload(2.0), response_format="verbose_json",
                                             timestamp_granularities=["word", "segment"])
    assert result.words and all(w.start <= w.end for w in result.words)
    assert fake_openai.requests[0].form_list("timestamp_granularities") == ["word", "segment"]


def test_word_timestamps_do_not_fall_back_to_a_model_without_them(client, fake_openai, fake_siliconflow):
    fake_openai.inject(Fault.HTTP_503)
    response = client.post("/v1/audio/transcriptions", files={"file": wav_upload()},
                           data={"model": "whisper-1", "response_format": "verbose_json",
                                 "timestamp_granularities[]": "word"})
    assert response.status_code == 502
    assert [a["outcome"] for a in response.json()["error"]["attempts"]] == ["status", "unsupported"]
    assert fake_siliconflow.hits == 0


def test_language_is_kept_for_sensevoice(client):
    response = client.post("/v1/audio/transcriptions", files={"file": wav_upload()},
                           data={"model": "alibaba/sensevoice-small", "response_format": "verbose_json", "language": "zh"})
    assert response.json()["language"] == "chinese"


def test_sensevoice_streaming_emits_openai_transcript_events(client, fake_siliconflow):
    response = client.post("/v1/audio/transcriptions", files={"file": wav_upload()},
                           data={"model": "alibaba/sensevoice-small", "stream": "true"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    assert events[-1]["type"] == "transcript.text.done"
    assert "".join(e["delta"] for e in events[:-1]) == events[-1]["text"] == fake_siliconflow.transcript_text


def test_sdk_translation_with_whisper(sdk, fake_openai):
    result = sdk.audio.translations.create(model="whisper-1", file=wav_upload(), response_format="verbose_json")
    assert result.language == "english" and result.text
    assert fake_openai.requests[0].path == "/v1/audio/translations"


BAD_UPLOADS = [
    ({"model": "whisper-1"}, {"file": ("x.wav", b"RIFF\x00\x00garbage-not-audio" * 10, "audio/wav")}, 400, "file"),
    ({"model": "whisper-1"}, {"file": ("notes.txt", b"just some text, not audio at all", "text/plain")}, 400, "file"),
    ({"model": "whisper-1"}, None, 400, "file"),
    ({}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "model"),
    ({"model": "nope/model"}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 404, "model"),
    ({"model": "tts-1"}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "model"),
    ({"model": "whisper-1", "response_format": "diarized_json"}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "response_format"),
    ({"model": "whisper-1", "response_format": "xml"}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "response_format"),
    ({"model": "whisper-1", "stream": "maybe"}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "stream"),
    ({"model": "whisper-1", "temperature": "hot"}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "temperature"),
    ({"model": "whisper-1", "language": "klingon"}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "language"),
    ({"model": "whisper-1", "timestamp_granularities[]": "word"}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "timestamp_granularities"),
    ({"model": "whisper-1", "include[]": "logprobs"}, {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "include"),
    ({"model": "alibaba/sensevoice-small", "response_format": "verbose_json", "timestamp_granularities[]": "word"},
     {"file": ("a.wav", make_wav(1.0), "audio/wav")}, 400, "timestamp_granularities"),
]


@pytest.mark.parametrize("data, files, status, param", BAD_UPLOADS)
def test_bad_uploads_are_rejected_before_any_upstream_call(client, fake_openai, fake_siliconflow, data, files, status, param):
    if files is None:  # multipart with text fields only
        response = client.post("/v1/audio/transcriptions", files={k: (None, v) for k, v in data.items()})
    else:
        response = client.post("/v1/audio/transcriptions", data=data, files=files)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    assert fake_openai.hits == 0 and fake_siliconflow.hits == 0


def test_translation_needs_a_model_that_translates(client):
    response = client.post("/v1/audio/translations", files={"file": wav_upload()}, data={"model": "alibaba/sensevoice-small"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "model"


def test_oversized_upload_is_413_without_reading_it_all(client, fake_openai):
    big = b"\0" * (25 * 1024 * 1024 + 1)
    response = client.post("/v1/audio/transcriptions", data={"model": "whisper-1"}, files={"file": ("big.wav", big, "audio/wav")})
    assert response.status_code == 413
    assert response.json()["error"]["param"] == "file"
    assert fake_openai.hits == 0


def test_not_multipart_is_a_clear_400(client):
    response = client.post("/v1/audio/transcriptions", json={"model": "whisper-1"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]


def test_sdk_raises_bad_request_for_garbage(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.audio.transcriptions.create(model="whisper-1", file=("x.mp3", b"\xff\xfb garbage", "audio/mpeg"))
    assert caught.value.body["param"] == "file"
