"""The newer transcription fields and the one capability check, table-driven and without I/O."""

from __future__ import annotations

import base64

import pytest

from audio_gateway.catalog import load_plan
from audio_gateway.catalog.model import SttModel
from audio_gateway.errors import InvalidRequest
from audio_gateway.providers import ADAPTERS, ServerVad
from audio_gateway.transcription import Upload, parse_transcription_fields, transcription_mismatches
from audio_gateway.transcription.fields import parse_chunking_strategy, parse_include, parse_known_speakers

from ..support.server_thread import CATALOG_DIR

MODELS = {m.id: m for m in load_plan(CATALOG_DIR, {}, ADAPTERS.keys()).models if isinstance(m, SttModel)}
CLIP = "data:audio/wav;base64," + base64.b64encode(b"RIFF....WAVEfmt ").decode()


def upload(**fields: str | list[str]) -> Upload:
    return Upload(fields={k: v if isinstance(v, list) else [v] for k, v in fields.items()})


@pytest.mark.parametrize("fields, expected", [
    ({}, None),
    ({"chunking_strategy": ""}, None),
    ({"chunking_strategy": "auto"}, "auto"),
    ({"chunking_strategy": " auto "}, "auto"),
    ({"chunking_strategy": '{"type": "server_vad"}'}, ServerVad()),
    ({"chunking_strategy": '{"type": "server_vad", "threshold": 0.3, "prefix_padding_ms": 100}'},
     ServerVad(threshold=0.3, prefix_padding_ms=100)),
    ({"chunking_strategy[type]": "server_vad", "chunking_strategy[silence_duration_ms]": "250"},
     ServerVad(silence_duration_ms=250)),
    ({"chunking_strategy[type]": "server_vad", "chunking_strategy[threshold]": "1"}, ServerVad(threshold=1.0)),
])
def test_chunking_strategy_in_every_encoding(fields, expected):
    assert parse_chunking_strategy(upload(**fields)) == expected


@pytest.mark.parametrize("fields", [
    {"chunking_strategy": "Auto"},
    {"chunking_strategy": "null-ish"},
    {"chunking_strategy": '{"type": "server_vad", "threshold": "high"}'},
    {"chunking_strategy": '{"type": "server_vad", "threshold": true}'},
    {"chunking_strategy": '{"type": "server_vad", "threshold": NaN}'},
    {"chunking_strategy": '{"type": "server_vad", "prefix_padding_ms": true}'},
    {"chunking_strategy": '{"prefix_padding_ms": 10}'},
    {"chunking_strategy[type]": "auto"},
])
def test_chunking_strategy_refusals_name_it(fields):
    with pytest.raises(InvalidRequest) as caught:
        parse_chunking_strategy(upload(**fields))
    assert (caught.value.param, caught.value.code) == ("chunking_strategy", "invalid_value")


def test_a_chunking_strategy_is_kept_on_job_records_as_openai_writes_it():
    import msgspec

    form = parse_transcription_fields(upload(model="gpt-4o-transcribe", **{
        "chunking_strategy[type]": "server_vad", "chunking_strategy[threshold]": "0.5"}), "transcribe")
    encoded = msgspec.json.encode(form)
    assert b'"chunking_strategy":{"type":"server_vad","threshold":0.5}' in encoded
    assert msgspec.json.decode(encoded, type=type(form)) == form
    auto = parse_transcription_fields(upload(model="m", chunking_strategy="auto"), "transcribe")
    assert msgspec.json.decode(msgspec.json.encode(auto), type=type(auto)).chunking_strategy == "auto"


def test_known_speakers_are_paired_data_urls():
    names, refs = parse_known_speakers(upload(**{"known_speaker_names[]": ["agent", "customer"],
                                                 "known_speaker_references[]": [CLIP, CLIP]}))
    assert names == ("agent", "customer") and refs == (CLIP, CLIP)
    assert parse_known_speakers(upload()) == ((), ())


@pytest.mark.parametrize("names, refs, param", [
    (["a"], [], "known_speaker_references"),
    ([], [CLIP], "known_speaker_names"),
    (["a", ""], [CLIP, CLIP], "known_speaker_names"),
    (["a", "a"], [CLIP, CLIP], "known_speaker_names"),
    (["a"] * 5, [CLIP] * 5, "known_speaker_names"),
    (["a"], ["data:audio/wav,notbase64"], "known_speaker_references"),
    (["a"], ["data:audio/wav;base64,@@@@"], "known_speaker_references"),
    (["a"], ["https://example.com/a.wav"], "known_speaker_references"),
])
def test_known_speaker_refusals(names, refs, param):
    with pytest.raises(InvalidRequest) as caught:
        parse_known_speakers(upload(**{"known_speaker_names[]": names, "known_speaker_references[]": refs}))
    assert caught.value.param == param


@pytest.mark.parametrize("values, fmt, ok", [
    (["logprobs"], "json", True), (["logprobs", "logprobs"], "json", True), ([" "], "text", True),
    (["logprobs"], "text", False), (["logprobs"], "verbose_json", False), (["tokens"], "json", False),
])
def test_include_values_and_their_format_rule(values, fmt, ok):
    if ok:
        assert set(parse_include(upload(**{"include[]": values}), fmt)) <= {"logprobs"}
    else:
        with pytest.raises(InvalidRequest) as caught:
            parse_include(upload(**{"include[]": values}), fmt)
        assert caught.value.param == "include"


# -- transcription_mismatches over the shipped catalog ------------------------------------------------------

FIELDS = {
    "plain": {},
    "stream": {"stream": "true"},
    "logprobs": {"include[]": "logprobs"},
    "chunking": {"chunking_strategy": "auto"},
    "prompt": {"prompt": "Names: Ana."},
    "diarized_json": {"response_format": "diarized_json"},
    "speakers": {"known_speaker_names[]": "agent", "known_speaker_references[]": CLIP},
    "srt": {"response_format": "srt"},
}
# model -> what blocks it (param) and what it absorbs, per request kind
EXPECTED = {
    "openai/gpt-4o-transcribe": {"diarized_json": "response_format", "speakers": "known_speaker_names"},
    "openai/gpt-4o-mini-transcribe": {"diarized_json": "response_format", "speakers": "known_speaker_names"},
    "openai/gpt-4o-transcribe-diarize": {"logprobs": "include", "prompt": "~prompt"},
    "openai/whisper-1": {"logprobs": "include", "chunking": "~chunking_strategy", "diarized_json": "response_format",
                         "speakers": "known_speaker_names"},
    "alibaba/sensevoice-small": {"logprobs": "include", "chunking": "~chunking_strategy", "prompt": "~prompt",
                                 "diarized_json": "response_format", "speakers": "known_speaker_names"},
}


@pytest.mark.parametrize("model_id", EXPECTED)
@pytest.mark.parametrize("kind", FIELDS)
def test_the_one_capability_check(model_id, kind):
    form = parse_transcription_fields(upload(model=model_id, **FIELDS[kind]), "transcribe")
    found = transcription_mismatches(form, MODELS[model_id], file_bytes=1000, duration=2.0)
    expected = EXPECTED[model_id].get(kind)
    assert [("~" if m.absorbed else "") + m.param for m in found] == ([expected] if expected else [])


def test_chunking_is_required_only_past_the_models_length():
    diarize = MODELS["openai/gpt-4o-transcribe-diarize"]
    form = parse_transcription_fields(upload(model=diarize.id), "transcribe")
    assert transcription_mismatches(form, diarize, file_bytes=1, duration=30.0) == []
    (long,) = transcription_mismatches(form, diarize, file_bytes=1, duration=30.5)
    assert (long.param, long.code, long.absorbed) == ("chunking_strategy", "missing_required_parameter", False)
    assert transcription_mismatches(form, diarize, file_bytes=1, duration=None) == []  # not probed yet
    chunked = parse_transcription_fields(upload(model=diarize.id, chunking_strategy="auto"), "transcribe")
    assert transcription_mismatches(chunked, diarize, file_bytes=1, duration=600.0) == []
