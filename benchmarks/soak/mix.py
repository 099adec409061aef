"""The seeded request mix: what the soak sends, and what each request is allowed to get back.

Pure: ``plan(rng, n)`` is a function of the random generator only, so one seed always yields the same
sequence of calls. Each `Call` carries its expectation: ``ok`` calls are valid (2xx, or the gateway's own
502/503/504 when every provider failed, or a provider's 4xx passed through), ``reject`` calls are the
caller's mistakes and must get a 4xx whatever the providers are doing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any, Literal

import msgspec
from tests.fakes import synthesize

__all__ = ["Call", "Upload", "plan", "LATEST_JOB"]

LATEST_JOB = "{latest_job}"
"""Placeholder in a path: the sender fills in the id of the job it accepted last (cancel, foreign reads)."""

_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Soak tests find what unit tests cannot.",
    "你好，世界。这是一个测试。",
    "Ça va ? Très bien — merci !",
    "Headphones on 🎧, volume up.",
    "Numbers like 3.14 and 2,718 should be read aloud.",
    "Guten Tag, wie geht's?",
    "こんにちは。テストです。",
)
_OPENAI_VOICES = ("alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer")
_TTS = {  # model -> response formats it (and its first fallback, where there is one) serves
    "tts-1": ("mp3", "opus", "wav", "pcm", "aac", "flac"),
    "tts-1-hd": ("mp3", "opus", "wav", "pcm", "aac", "flac"),
    "gpt-4o-mini-tts": ("mp3", "opus", "wav", "pcm"),
    "alibaba/cosyvoice2-0.5b": ("mp3", "opus", "wav", "pcm"),
    "fishaudio/fish-speech-1.5": ("mp3", "wav"),
}
_STT = ("whisper-1", "alibaba/sensevoice-small")
_STT_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")


class Upload(msgspec.Struct, frozen=True):
    name: str
    data: bytes
    content_type: str


class Call(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    """Short label for the histogram: tts, stt, job_tts, invalid:unknown_model, ..."""
    method: str
    path: str
    expect: Literal["ok", "reject"] = "ok"
    key: str | None = "alice"
    """Client key name from stack.CLIENT_KEYS; None sends no Authorization; "wrong" sends a bad key."""
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    form: dict[str, str | list[str]] | None = None
    file: Upload | None = None
    sdk: bool = False
    """Send through the official OpenAI SDK instead of raw httpx."""
    job: bool = False
    """A job submission: a 202's id joins the jobs the end of the run waits for."""
    idempotency_key: str | None = None
    """Sent as Idempotency-Key; a repeat of the same call must return the same job."""
    abandon: bool = False
    """Read the first chunk of a 200 stream, then hang up (the gateway must cancel upstream, leak nothing)."""
    trickle: int | None = None
    """Over a raw socket: announce this Content-Length, send `content`, then one more byte at a time; the
    gateway must answer early and close the connection within its drain bound, not hold it."""


def _uploads() -> tuple[Upload, ...]:
    return (
        Upload("short.wav", synthesize("wav", 0.6, 16000), "audio/wav"),
        Upload("clip.wav", synthesize("wav", 1.5, 16000), "audio/wav"),
        Upload("note.mp3", synthesize("mp3", 2.0, 24000), "audio/mpeg"),
        Upload("memo.flac", synthesize("flac", 1.0, 16000), "audio/flac"),
    )


def _text(rng: random.Random, sentences: int | None = None) -> str:
    return " ".join(rng.choice(_SENTENCES) for _ in range(sentences or rng.randint(1, 4)))


def _speech_body(rng: random.Random) -> dict[str, Any]:
    model = rng.choice(tuple(_TTS))
    body: dict[str, Any] = {"model": model, "voice": rng.choice(_OPENAI_VOICES), "input": _text(rng),
                            "response_format": rng.choice(_TTS[model])}
    if rng.random() < 0.2:
        body["speed"] = round(rng.uniform(0.5, 2.0), 2)
    if model == "gpt-4o-mini-tts" and rng.random() < 0.3:
        body["instructions"] = "Speak calmly."
    if model == "gpt-4o-mini-tts" and rng.random() < 0.3:
        body["stream_format"] = "sse"
    return body


def _stt_form(rng: random.Random, model: str | None = None) -> dict[str, str | list[str]]:
    model = model or rng.choice(_STT)
    form: dict[str, str | list[str]] = {"model": model, "response_format": rng.choice(_STT_FORMATS)}
    if form["response_format"] == "verbose_json" and rng.random() < 0.5:
        form["timestamp_granularities[]"] = "segment"
    if rng.random() < 0.2:
        form["language"] = rng.choice(("en", "zh", "fr"))
    return form


# -- valid calls ------------------------------------------------------------------------------------------

def _tts(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    return Call(kind="tts", method="POST", path="/v1/audio/speech", json=_speech_body(rng))


def _tts_sdk(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    body = _speech_body(rng)
    body.pop("stream_format", None)
    return Call(kind="tts_sdk", method="POST", path="/v1/audio/speech", json=body, sdk=True)


def _stt(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    return Call(kind="stt", method="POST", path="/v1/audio/transcriptions", form=_stt_form(rng),
                file=rng.choice(uploads))


def _stt_sdk(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    form = _stt_form(rng)
    form.pop("timestamp_granularities[]", None)
    return Call(kind="stt_sdk", method="POST", path="/v1/audio/transcriptions", form=form,
                file=rng.choice(uploads), sdk=True)


def _translate(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    form = {"model": "whisper-1", "response_format": rng.choice(_STT_FORMATS)}
    return Call(kind="translate", method="POST", path="/v1/audio/translations", form=form, file=rng.choice(uploads))


def _read(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    path = rng.choice(("/v1/models", "/v1/models/tts-1", "/v1/models/alibaba/sensevoice-small",
                       "/v1/jobs?limit=5", "/healthz", "/readyz"))
    return Call(kind="read", method="GET", path=path, key=rng.choice(("alice", "bob")))


def _job_tts(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    body = _speech_body(rng)
    body.pop("stream_format", None)
    if rng.random() < 0.08:  # long enough to be split into provider-sized pieces and stitched
        body.update(model="tts-1", response_format=rng.choice(("mp3", "wav")), input=_text(rng, 130))
    return Call(kind="job_tts", method="POST", path="/v1/jobs", json=body, job=True,
                key=rng.choice(("alice", "bob")))


def _tts_abandon(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    body = {**_speech_body(rng), "response_format": "wav"}  # wav: several chunks, so there is a rest to abandon
    body.pop("stream_format", None)
    return Call(kind="tts_abandon", method="POST", path="/v1/audio/speech", json=body, abandon=True)


def _job_idempotent(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    body = _speech_body(rng)
    body.pop("stream_format", None)
    return Call(kind="job_idempotent", method="POST", path="/v1/jobs", json=body, job=True,
                idempotency_key=f"soak-{rng.getrandbits(64):016x}")


def _job_stt(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    return Call(kind="job_stt", method="POST", path="/v1/jobs", form=_stt_form(rng), file=rng.choice(uploads),
                job=True)


def _job_cancel(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    return Call(kind="job_cancel", method="DELETE", path=f"/v1/jobs/{LATEST_JOB}")


def _job_read(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    return Call(kind="job_read", method="GET", path=f"/v1/jobs/{LATEST_JOB}")


# -- the caller's mistakes: each must be a 4xx in OpenAI's error shape ---------------------------------

def _invalid(name: str, method: str, path: str, **fields: Any) -> Call:
    return Call(kind=f"invalid:{name}", method=method, path=path, expect="reject", **fields)


def _invalid_call(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    speech = _speech_body(rng)
    upload = rng.choice(uploads)
    choices: tuple[Callable[[], Call], ...] = (
        lambda: _invalid("unknown_model", "POST", "/v1/audio/speech", json={**speech, "model": "no-such-model"}),
        lambda: _invalid("bad_json", "POST", "/v1/audio/speech", content=b'{"model": "tts-1", "input": ',
                         content_type="application/json"),
        lambda: _invalid("json_array", "POST", "/v1/audio/speech", json=[speech]),
        lambda: _invalid("empty_body", "POST", "/v1/audio/speech", content=b"", content_type="application/json"),
        lambda: _invalid("missing_input", "POST", "/v1/audio/speech",
                         json={k: v for k, v in speech.items() if k != "input"}),
        lambda: _invalid("speed_out_of_range", "POST", "/v1/audio/speech", json={**speech, "speed": 9.5}),
        lambda: _invalid("input_too_long", "POST", "/v1/audio/speech",
                         json={**speech, "model": "tts-1", "input": "x" * 4097}),
        lambda: _invalid("bad_format", "POST", "/v1/audio/speech", json={**speech, "response_format": "wma"}),
        lambda: _invalid("wrong_type", "POST", "/v1/audio/speech", json={**speech, "input": 42}),
        lambda: _invalid("not_audio", "POST", "/v1/audio/transcriptions", form={"model": "whisper-1"},
                         file=Upload("notes.wav", b"this is not audio at all " * 40, "audio/wav")),
        lambda: _invalid("missing_file", "POST", "/v1/audio/transcriptions", form={"model": "whisper-1"}),
        lambda: _invalid("tts_model_for_stt", "POST", "/v1/audio/transcriptions", form={"model": "tts-1"},
                         file=upload),
        lambda: _invalid("translation_unsupported", "POST", "/v1/audio/translations",
                         form={"model": "alibaba/sensevoice-small"}, file=upload),
        lambda: _invalid("word_timestamps_without_verbose", "POST", "/v1/audio/transcriptions",
                         form={"model": "whisper-1", "response_format": "json", "timestamp_granularities[]": "word"},
                         file=upload),
        lambda: _invalid("unknown_route", "GET", "/v1/audio/nowhere"),
        lambda: _invalid("wrong_method", "GET", "/v1/audio/speech"),
        lambda: _invalid("wrong_key", "GET", "/v1/models", key="wrong"),
        lambda: _invalid("no_key", "POST", "/v1/audio/speech", json=speech, key=None),
        lambda: _invalid("unknown_job", "GET", "/v1/jobs/job_00000000000000000000000000000000"),
        lambda: _invalid("foreign_job", "GET", f"/v1/jobs/{LATEST_JOB}", key="bob"),
        lambda: _invalid("bad_limit", "GET", "/v1/jobs?limit=1000"),
        lambda: _invalid("private_file_url", "POST", "/v1/jobs",
                         json={"model": "whisper-1", "file_url": "http://127.0.0.1:9/secret.wav"}),
        lambda: _invalid("job_unknown_model", "POST", "/v1/jobs", json={**speech, "model": "no-such-model"}),
        lambda: _invalid("deep_json", "POST", "/v1/audio/speech", content=_deep(speech, rng.choice((65, 1_000, 50_000))),
                         content_type="application/json"),
        lambda: _invalid("deep_json_job", "POST", "/v1/jobs", content=_deep(speech, rng.choice((65, 1_000))),
                         content_type="application/json"),
        lambda: _invalid("truncated_multipart", "POST", "/v1/audio/transcriptions", content=_cut_multipart(rng, upload),
                         content_type=f"multipart/form-data; boundary={_BOUNDARY}"),
        lambda: _invalid("truncated_multipart_job", "POST", "/v1/jobs", content=_cut_multipart(rng, upload),
                         content_type=f"multipart/form-data; boundary={_BOUNDARY}"),
    )
    return rng.choice(choices)()


_BOUNDARY = "soak-cut"


def _deep(body: dict[str, Any], depth: int) -> bytes:
    """A valid body plus one ignored field that makes it nest `depth` levels (past the gateway's 64)."""
    inner = depth - 1
    return msgspec.json.encode(body)[:-1] + b', "deep": ' + b"[" * inner + b"]" * inner + b"}"


def _cut_multipart(rng: random.Random, upload: Upload) -> bytes:
    """A whole transcription form but for its closing boundary, cut after the file or somewhere inside it."""
    head = (f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
            f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{upload.name}"\r\n'
            f"Content-Type: {upload.content_type}\r\n\r\n").encode()
    body = head + upload.data + b"\r\n"
    return body if rng.random() < 0.5 else body[: rng.randint(len(head), len(body))]


def _trickle(rng: random.Random, uploads: tuple[Upload, ...]) -> Call:
    """An early answer to a body still arriving: 401 (no key) or 413 (announced past the 1 MiB JSON cap)."""
    if rng.random() < 0.5:
        return Call(kind="invalid:trickle_no_key", method="POST", path="/v1/audio/speech", expect="reject",
                    key=None, content=b'{"model": "tts-1", ', content_type="application/json", trickle=10_000_000)
    return Call(kind="invalid:trickle_too_large", method="POST", path="/v1/audio/speech", expect="reject",
                content=b'{"model": "tts-1", ', content_type="application/json", trickle=2_000_000)


_MIX: tuple[tuple[Callable[[random.Random, tuple[Upload, ...]], Call], int], ...] = (
    (_tts, 26), (_tts_sdk, 5), (_stt, 15), (_stt_sdk, 4), (_translate, 3), (_read, 10), (_invalid_call, 14),
    (_job_tts, 10), (_job_stt, 6), (_job_idempotent, 2), (_job_cancel, 2), (_job_read, 3), (_tts_abandon, 3),
    (_trickle, 1),
)


def plan(rng: random.Random, n: int) -> Iterator[Call]:
    """``n`` calls drawn from the weighted mix (an idempotent job submission is sometimes sent twice)."""
    uploads = _uploads()
    makers = [maker for maker, _ in _MIX]
    weights = [weight for _, weight in _MIX]
    sent = 0
    while sent < n:
        call = rng.choices(makers, weights)[0](rng, uploads)
        yield call
        sent += 1
        if call.idempotency_key and sent < n and rng.random() < 0.5:
            yield call  # a client retrying the same submission, likely while the first is still in flight
            sent += 1
