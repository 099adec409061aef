"""The transcription/translation form, and the one capability check every target goes through.

`transcription_mismatches` lists what an STT model cannot do for a request; the model the client named
turns its first mismatch into a 400 before any upstream call (the duration-bound ones once the upload is
probed), a fallback target with a mismatch it cannot absorb is skipped as unsuitable (a `prompt` or a
`chunking_strategy` it has no use for is dropped instead). Form-level rules that hold for every model
(granularities need verbose_json, logprobs need json) are checked once in `parse_transcription_fields`.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from ..audio import DIARIZED_JSON, RESPONSE_FORMATS, AudioInfo, language_code
from ..catalog.model import Route, SttModel, Target
from ..errors import InvalidRequest
from ..providers.base import TranscriptionCall
from ..routing import Unsuitable
from .fields import ChunkingStrategy, parse_chunking_strategy, parse_include, parse_known_speakers
from .upload import Upload

__all__ = ["TranscriptionRequest", "Mismatch", "parse_transcription_form", "parse_transcription_fields",
           "transcription_mismatches", "validate_transcription", "check_duration", "transcription_call_for"]

Task = Literal["transcribe", "translate"]
_KNOWN_FORMATS = (*RESPONSE_FORMATS, DIARIZED_JSON)


class TranscriptionRequest(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAI's CreateTranscriptionRequest (or CreateTranslationRequest) minus the file, validated.

    Kept on transcription job records, so every field added later needs a default."""

    model: str
    task: Task
    response_format: str = "json"
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    timestamp_granularities: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    stream: bool = False
    chunking_strategy: ChunkingStrategy | None = None
    known_speaker_names: tuple[str, ...] = ()
    known_speaker_references: tuple[str, ...] = ()

    @property
    def logprobs(self) -> bool:
        return "logprobs" in self.include


class Mismatch(msgspec.Struct, frozen=True):
    """One thing a model cannot do for a request. `absorbed`: a fallback target serves anyway (the field dropped)."""

    param: str
    code: str
    message: str
    absorbed: bool = False


def _bool(value: str | None, param: str) -> bool:
    if value is None or value.strip().lower() in ("", "false", "0"):
        return False
    if value.strip().lower() in ("true", "1"):
        return True
    raise InvalidRequest(f"`{param}` must be true or false.", param=param, code="invalid_value")


def parse_transcription_form(upload: Upload, task: Task) -> TranscriptionRequest:
    """Form fields and file → typed request; a missing or malformed field is a 400 naming it."""
    if upload.file is None or upload.file_bytes == 0:
        raise InvalidRequest("Upload the audio as a non-empty `file` field.", param="file", code="missing_file")
    return parse_transcription_fields(upload, task)


def parse_transcription_fields(upload: Upload, task: Task) -> TranscriptionRequest:
    """The text fields alone (a `file_url` job has no file part)."""
    model = (upload.first("model") or "").strip()
    if not model:
        raise InvalidRequest("you must provide a model parameter", param="model", code="missing_required_parameter")
    response_format = (upload.first("response_format") or "json").strip()
    if response_format not in _KNOWN_FORMATS:
        raise InvalidRequest(f"`response_format` must be one of {list(_KNOWN_FORMATS)}.",
                             param="response_format", code="invalid_value")
    temperature = upload.first("temperature")
    temperature_value: float | None = None
    if temperature is not None and temperature.strip():
        try:
            temperature_value = float(temperature)
        except ValueError:
            raise InvalidRequest("`temperature` must be a number.", param="temperature", code="invalid_value") from None
        if not math.isfinite(temperature_value) or not 0 <= temperature_value <= 1:
            raise InvalidRequest("`temperature` must be between 0 and 1.", param="temperature", code="invalid_value")
    language = (upload.first("language") or "").strip() or None
    if language is not None and task == "translate":
        raise InvalidRequest("Translations are always into English; omit `language`.", param="language")
    if language is not None and language_code(language) is None:
        raise InvalidRequest(f"`language` {language!r} is not a supported ISO-639-1 code.", param="language",
                             code="invalid_language")
    granularities = tuple(dict.fromkeys(g.strip() for g in upload.all("timestamp_granularities") if g.strip()))
    for granularity in granularities:
        if granularity not in ("word", "segment"):
            raise InvalidRequest("`timestamp_granularities[]` accepts `word` and `segment`.",
                                 param="timestamp_granularities", code="invalid_value")
    if granularities and response_format != "verbose_json":
        raise InvalidRequest("`timestamp_granularities[]` requires `response_format` verbose_json.",
                             param="timestamp_granularities", code="invalid_value")
    stream = _bool(upload.first("stream"), "stream")
    if stream and task == "translate":
        raise InvalidRequest("Translations do not stream; omit `stream`.", param="stream", code="unsupported_value")
    names, references = parse_known_speakers(upload)
    return TranscriptionRequest(
        model=model, task=task, response_format=response_format,
        language=language_code(language) if language else None,
        prompt=upload.first("prompt") or None, temperature=temperature_value,
        timestamp_granularities=granularities,
        include=parse_include(upload, response_format),
        stream=stream,
        chunking_strategy=parse_chunking_strategy(upload),
        known_speaker_names=names, known_speaker_references=references,
    )


def transcription_mismatches(request: TranscriptionRequest, model: SttModel, *, file_bytes: int,
                             duration: float | None) -> list[Mismatch]:
    """What `model` cannot do for this request; `duration` None means "not probed yet"."""
    caps = model.capabilities
    found = []
    if request.task == "translate" and not caps.translation:
        found.append(Mismatch("model", "model_not_supported",
                              f"{model.id} cannot translate; use a model whose catalog entry allows translation."))
    if request.response_format not in caps.response_formats:
        found.append(Mismatch("response_format", "unsupported_value",
                              f"{model.id} cannot return {request.response_format!r}; choose one of "
                              f"{list(caps.response_formats)}."))
    unsupported = [g for g in request.timestamp_granularities if g not in caps.timestamp_granularities]
    if unsupported:
        found.append(Mismatch("timestamp_granularities", "unsupported_value",
                              f"{model.id} does not provide {unsupported[0]} timestamps."))
    if request.logprobs and not caps.logprobs:
        found.append(Mismatch("include", "unsupported_parameter",
                              f"{model.id} does not support `include[]=logprobs`."))
    if request.stream and not caps.streaming:
        found.append(Mismatch("stream", "unsupported_value", f"{model.id} does not support `stream: true`."))
    if request.known_speaker_names and not caps.diarization:
        found.append(Mismatch("known_speaker_names", "unsupported_parameter",
                              f"{model.id} does not diarize; `known_speaker_names[]` needs a diarization model."))
    if request.prompt and not caps.prompt:
        found.append(Mismatch("prompt", "unsupported_parameter", f"{model.id} does not support `prompt`.",
                              absorbed=True))
    if request.chunking_strategy is not None and not caps.chunking:
        found.append(Mismatch("chunking_strategy", "unsupported_parameter",
                              f"{model.id} does not support `chunking_strategy`.", absorbed=True))
    if file_bytes > caps.max_upload_bytes:
        found.append(Mismatch("file", "file_too_large", f"{model.id} accepts files up to {caps.max_upload_bytes} bytes."))
    limit = caps.max_duration_seconds
    if duration is not None and limit is not None and duration > limit:
        found.append(Mismatch("file", "audio_too_long",
                              f"The audio is {duration:.0f} s long; {model.id} accepts at most {limit:.0f} s."))
    chunk_after = caps.chunking_required_over_seconds
    if duration is not None and chunk_after is not None and duration > chunk_after and request.chunking_strategy is None:
        found.append(Mismatch("chunking_strategy", "missing_required_parameter",
                              f"The audio is {duration:.0f} s long; {model.id} needs a `chunking_strategy` "
                              f"(\"auto\" or a server_vad object) for audio over {chunk_after:g} s."))
    return found


def _stt_model(request: TranscriptionRequest, route: Route) -> SttModel:
    model = route.model
    if not isinstance(model, SttModel):
        raise InvalidRequest(f"Model {request.model!r} is a {model.kind} model; use it with /v1/audio/speech.",
                             param="model", code="model_not_supported")
    return model


def validate_transcription(request: TranscriptionRequest, route: Route, upload: Upload) -> None:
    """Before probing: the named model's mismatches are 400s naming the param."""
    model = _stt_model(request, route)
    for mismatch in transcription_mismatches(request, model, file_bytes=upload.file_bytes, duration=None)[:1]:
        raise InvalidRequest(mismatch.message, param=mismatch.param, code=mismatch.code)


def check_duration(info: AudioInfo, route: Route, request: TranscriptionRequest | None = None) -> None:
    """After probing: the named model's limits that depend on the audio's length (its duration limit, and
    with the `request` also whether that length needs a `chunking_strategy`)."""
    model = route.model
    assert isinstance(model, SttModel)
    limit = model.capabilities.max_duration_seconds
    if limit is not None and info.duration > limit:
        raise InvalidRequest(f"The audio is {info.duration:.0f} s long; {model.id} accepts at most {limit:.0f} s.",
                             param="file", code="audio_too_long")
    if request is not None:
        for mismatch in transcription_mismatches(request, model, file_bytes=0, duration=info.duration)[:1]:
            raise InvalidRequest(mismatch.message, param=mismatch.param, code=mismatch.code)


def transcription_call_for(request: TranscriptionRequest, target: Target, upload: Upload, info: AudioInfo) -> TranscriptionCall:
    """Re-map for one target; a fallback that cannot honour the request is skipped, not half-served.

    What the target has no use for (a prompt, a chunking strategy) is dropped; the provider is asked to
    stream only when the client streams and the target streams upstream (else the gateway makes the events)."""
    model = target.model
    assert isinstance(model, SttModel) and upload.file is not None
    mismatches = transcription_mismatches(request, model, file_bytes=upload.file_bytes, duration=info.duration)
    blocking = [m for m in mismatches if not m.absorbed]
    if blocking:
        raise Unsuitable(blocking[0].message)
    caps = model.capabilities
    return TranscriptionCall(
        upstream_model=model.upstream_model, task=request.task, file=upload.file, filename=upload.filename,
        content_type=upload.content_type, duration=info.duration, language=request.language,
        prompt=request.prompt if caps.prompt else None, temperature=request.temperature,
        timestamp_granularities=request.timestamp_granularities,
        upstream_response_format=caps.upstream_response_format,
        include=request.include,
        stream=request.stream and caps.upstream_streaming,
        chunking_strategy=request.chunking_strategy if caps.chunking else None,
        known_speaker_names=request.known_speaker_names,
        known_speaker_references=request.known_speaker_references,
    )
