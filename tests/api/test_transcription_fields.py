"""The fields current SDKs send, through the gateway: honoured, mapped, or refused naming the param.

`include[]=logprobs`, `chunking_strategy` (auto / server_vad in the SDK's bracketed form or JSON text),
`known_speaker_*`, `prompt`, `response_format=diarized_json`. The named model's mismatch is a 400 before
any upstream call; a fallback target that cannot honour a field is skipped (`unsupported`), except a
prompt or a chunking strategy it has no use for, which it is served without.
"""

from __future__ import annotations

import base64
import json

import openai
import pytest
from openai.types.audio import TranscriptionDiarized

from ..audio_samples import make_wav
from ..fakes import DEFAULT_TRANSCRIPT, Fault, transcription_token_usage


def wav(seconds: float = 2.0) -> tuple[str, bytes, str]:
    return ("speech.wav", make_wav(seconds), "audio/wav")


def clip(seconds: float) -> str:
    return "data:audio/wav;base64," + base64.b64encode(make_wav(seconds)).decode()


def post(client, data: dict, seconds: float = 2.0):
    return client.post("/v1/audio/transcriptions", files={"file": wav(seconds)}, data=data)


# -- include[]=logprobs --------------------------------------------------------------------------------------


def test_logprobs_round_trip(sdk, fake_openai):
    body = sdk.audio.transcriptions.create(model="gpt-4o-transcribe", file=wav(), include=["logprobs"])
    assert fake_openai.requests[0].form["include[]"] == ["logprobs"]
    assert [lp.token for lp in body.logprobs] == DEFAULT_TRANSCRIPT.split()
    assert body.logprobs[0].bytes == list(b"Hello") and body.logprobs[0].logprob == -0.01
    plain = sdk.audio.transcriptions.create(model="gpt-4o-transcribe", file=wav())
    assert plain.logprobs is None and "include[]" not in fake_openai.requests[1].form


def test_logprobs_never_fall_back_to_a_model_without_them(client, fake_openai, fake_siliconflow):
    fake_openai.inject(Fault.HTTP_503)
    response = post(client, {"model": "gpt-4o-mini-transcribe", "include[]": "logprobs"})
    assert response.status_code == 502
    attempts = response.json()["error"]["attempts"]
    assert [(a["model"], a["outcome"]) for a in attempts] == [
        ("openai/gpt-4o-mini-transcribe", "status"), ("openai/whisper-1", "unsupported"),
        ("alibaba/sensevoice-small", "unsupported")]
    assert fake_siliconflow.hits == 0 and fake_openai.hits == 1


# -- chunking_strategy -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    {"chunking_strategy": "manual"},
    {"chunking_strategy": "{not json"},
    {"chunking_strategy": '["auto"]'},
    {"chunking_strategy": json.dumps({"type": "client_vad"})},
    {"chunking_strategy": json.dumps({"type": "server_vad", "speed": 1})},
    {"chunking_strategy": json.dumps({"type": "server_vad", "threshold": 1.5})},
    {"chunking_strategy": json.dumps({"type": "server_vad", "prefix_padding_ms": 2.5})},
    {"chunking_strategy": json.dumps({"type": "server_vad", "silence_duration_ms": -1})},
    {"chunking_strategy[threshold]": "0.5"},
    {"chunking_strategy[type]": "server_vad", "chunking_strategy[threshold]": "loud"},
    {"chunking_strategy[type]": "server_vad", "chunking_strategy[prefix_padding_ms]": "abc"},
    {"chunking_strategy": "auto", "chunking_strategy[type]": "server_vad"},
], ids=lambda fields: "&".join(f"{k}={v}" for k, v in fields.items()))
def test_malformed_chunking_strategy_is_a_400_before_any_call(client, fake_openai, fields):
    response = post(client, {"model": "gpt-4o-transcribe", **fields})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == ("chunking_strategy", "invalid_value",
                                                               "invalid_request_error")
    assert fake_openai.hits == 0


@pytest.mark.parametrize("strategy, sent", [
    ("auto", {"chunking_strategy": "auto"}),
    ({"type": "server_vad", "threshold": 0.4, "prefix_padding_ms": 200, "silence_duration_ms": 500},
     {"chunking_strategy[type]": "server_vad", "chunking_strategy[prefix_padding_ms]": "200",
      "chunking_strategy[silence_duration_ms]": "500", "chunking_strategy[threshold]": "0.4"}),
    ({"type": "server_vad"}, {"chunking_strategy[type]": "server_vad"}),
])
def test_chunking_strategy_from_the_sdk_reaches_openai_as_the_sdk_sends_it(sdk, fake_openai, strategy, sent):
    sdk.audio.transcriptions.create(model="gpt-4o-transcribe", file=wav(), chunking_strategy=strategy)
    form = fake_openai.requests[0].form
    assert {k: v for k, v in form.items() if k.startswith("chunking_strategy")} == sent


def test_chunking_strategy_as_json_text_is_accepted(client, fake_openai):
    response = post(client, {"model": "gpt-4o-transcribe",
                             "chunking_strategy": json.dumps({"type": "server_vad", "silence_duration_ms": 300})})
    assert response.status_code == 200, response.text
    assert fake_openai.requests[0].form["chunking_strategy[silence_duration_ms]"] == "300"


def test_chunking_strategy_for_a_model_without_it(client, fake_openai):
    response = post(client, {"model": "whisper-1", "chunking_strategy": "auto"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "chunking_strategy"
    assert fake_openai.hits == 0


def test_a_fallback_is_served_without_the_chunking_strategy_it_has_no_use_for(client, fake_openai):
    fake_openai.inject(Fault.HTTP_500)
    response = post(client, {"model": "gpt-4o-transcribe", "chunking_strategy": "auto", "prompt": "Names: Ana."})
    assert response.status_code == 200 and response.headers["x-gateway-model"] == "openai/whisper-1"
    whisper = fake_openai.requests[1].form
    assert whisper["model"] == "whisper-1" and "chunking_strategy" not in whisper
    assert whisper["prompt"] == "Names: Ana."  # whisper-1 takes prompts


def test_a_prompt_is_dropped_only_where_it_cannot_go(client, fake_openai, fake_siliconflow):
    fake_openai.inject(Fault.HTTP_500)
    response = post(client, {"model": "whisper-1", "prompt": "Names: Ana."})
    assert response.headers["x-gateway-model"] == "alibaba/sensevoice-small"
    assert set(fake_siliconflow.requests[0].form) == {"model"}
    refused = post(client, {"model": "alibaba/sensevoice-small", "prompt": "Names: Ana."})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "prompt"


# -- diarization ------------------------------------------------------------------------------------------------


def test_diarized_json_passes_through_for_the_diarize_model(sdk, fake_openai):
    raw = sdk.audio.transcriptions.with_raw_response.create(model="gpt-4o-transcribe-diarize", file=wav(3.0),
                                                            response_format="diarized_json")
    body = raw.parse()
    assert isinstance(body, TranscriptionDiarized)
    assert fake_openai.requests[0].form["response_format"] == "diarized_json"
    assert (body.task, body.text, body.duration) == ("transcribe", DEFAULT_TRANSCRIPT, 3.0)
    assert [(s.type, s.id, s.speaker, s.text) for s in body.segments] == [
        ("transcript.text.segment", "seg_001", "A", "Hello from the fake transcriber."),
        ("transcript.text.segment", "seg_002", "B", "It has two sentences.")]
    assert body.segments[-1].end == 3.0
    assert body.usage.model_dump(exclude_none=True) == transcription_token_usage(DEFAULT_TRANSCRIPT, None, 3.0)
    assert list(json.loads(raw.http_response.content)) == ["task", "duration", "text", "segments", "usage"]


def test_known_speakers_reach_the_diarize_model_and_label_its_segments(sdk, fake_openai):
    references = [clip(2.5), clip(9.0)]  # 9 s of WAV is ~380 KB of base64: past the 64 KiB text-field cap
    body = sdk.audio.transcriptions.create(model="gpt-4o-transcribe-diarize", file=wav(), response_format="diarized_json",
                                           known_speaker_names=["agent", "customer"], known_speaker_references=references)
    sent = fake_openai.requests[0]
    assert sent.form_list("known_speaker_names") == ["agent", "customer"]
    assert sent.form_list("known_speaker_references") == references
    assert [s.speaker for s in body.segments] == ["agent", "customer"]


def test_subtitles_of_a_diarized_transcript_follow_its_speaker_segments(client, fake_openai):
    response = post(client, {"model": "gpt-4o-transcribe-diarize", "response_format": "srt"}, seconds=3.0)
    assert response.status_code == 200
    assert response.text == ("1\n00:00:00,000 --> 00:00:01,810\nHello from the fake transcriber.\n\n"
                             "2\n00:00:01,810 --> 00:00:03,000\nIt has two sentences.\n\n")
    assert fake_openai.requests[0].form["response_format"] == "diarized_json"


def test_formats_gpt_4o_transcribe_lacks_upstream_are_rendered_by_the_gateway(client, fake_openai):
    response = post(client, {"model": "gpt-4o-transcribe", "response_format": "vtt"})
    assert response.text == "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello from the fake transcriber. It has two sentences.\n\n"
    assert fake_openai.requests[0].form["response_format"] == "json"


@pytest.mark.parametrize("data, param", [
    ({"model": "gpt-4o-transcribe", "response_format": "diarized_json"}, "response_format"),
    ({"model": "whisper-1", "response_format": "diarized_json"}, "response_format"),
    ({"model": "whisper-1", "known_speaker_names[]": "agent", "known_speaker_references[]": clip(3.0)},
     "known_speaker_names"),
    ({"model": "gpt-4o-transcribe-diarize", "prompt": "Names: Ana."}, "prompt"),
    ({"model": "gpt-4o-transcribe-diarize", "include[]": "logprobs"}, "include"),
    ({"model": "gpt-4o-transcribe-diarize", "known_speaker_names[]": ["a", "b"],
      "known_speaker_references[]": clip(3.0)}, "known_speaker_references"),
    ({"model": "gpt-4o-transcribe-diarize", "known_speaker_names[]": "a",
      "known_speaker_references[]": "https://example.com/a.wav"}, "known_speaker_references"),
    ({"model": "gpt-4o-transcribe-diarize", "known_speaker_names[]": ["a", "a"],
      "known_speaker_references[]": [clip(3.0), clip(3.0)]}, "known_speaker_names"),
    ({"model": "gpt-4o-transcribe-diarize", "known_speaker_names[]": list("abcde"),
      "known_speaker_references[]": [clip(2.0)] * 4}, "known_speaker_names"),
    ({"model": "gpt-4o-transcribe-diarize", "known_speaker_names[]": list("abcde"),
      "known_speaker_references[]": [clip(2.0)] * 5}, "known_speaker_references"),
    ({"model": "gpt-4o-transcribe", "include[]": "logprobs", "response_format": "text"}, "include"),
    ({"model": "gpt-4o-transcribe", "include[]": "tokens"}, "include"),
])
def test_what_the_named_model_cannot_do_is_a_400_naming_the_param(client, fake_openai, fake_siliconflow, data, param):
    response = post(client, data)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]
    assert fake_openai.hits == 0 and fake_siliconflow.hits == 0


def test_diarized_json_is_unsuitable_on_every_fallback(client, fake_openai, fake_siliconflow):
    fake_openai.inject(Fault.HTTP_500)
    response = post(client, {"model": "gpt-4o-transcribe-diarize", "response_format": "diarized_json"})
    assert response.status_code == 502
    assert [a["outcome"] for a in response.json()["error"]["attempts"]] == ["status", "unsupported", "unsupported"]
    assert fake_siliconflow.hits == 0


def test_a_diarize_request_without_speaker_labels_falls_back(client, fake_openai):
    fake_openai.inject(Fault.HTTP_500)
    response = post(client, {"model": "gpt-4o-transcribe-diarize"})
    assert response.status_code == 200 and response.headers["x-gateway-model"] == "openai/whisper-1"


def test_long_audio_for_diarize_needs_a_chunking_strategy(client, fake_openai):
    refused = post(client, {"model": "gpt-4o-transcribe-diarize"}, seconds=31.0)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["param"], error["code"]) == ("chunking_strategy", "missing_required_parameter")
    assert "30 s" in error["message"] and fake_openai.hits == 0
    served = post(client, {"model": "gpt-4o-transcribe-diarize", "chunking_strategy": "auto"}, seconds=31.0)
    assert served.status_code == 200, served.text
    assert fake_openai.requests[0].form["chunking_strategy"] == "auto"


def test_the_sdk_sees_a_bad_request_error_naming_the_param(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.audio.transcriptions.create(model="gpt-4o-transcribe", file=wav(), chunking_strategy={"type": "bogus"})
    assert caught.value.body["param"] == "chunking_strategy"
