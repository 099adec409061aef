"""The `/v1/audio/speech` body, decoded and checked against the model before any upstream call."""

from __future__ import annotations

from typing import Literal

import msgspec

from ..catalog.model import Route, Target, TtsCapabilities, TtsModel
from ..errors import InvalidRequest
from ..providers.base import SpeechCall
from ..routing import Unsuitable
from .voices import UnknownVoice, resolve_voice

__all__ = ["VoiceRef", "SpeechRequest", "validate_speech", "speech_call_for"]

ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class VoiceRef(msgspec.Struct, frozen=True):
    id: str


class SpeechRequest(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAI's CreateSpeechRequest. Unknown fields are ignored, as newer SDKs may send them."""

    model: str
    input: str
    voice: str | VoiceRef
    instructions: str | None = None
    response_format: ResponseFormat = "mp3"
    speed: float | None = None
    stream_format: Literal["audio", "sse"] = "audio"

    @property
    def voice_value(self) -> str | dict[str, str]:
        return self.voice if isinstance(self.voice, str) else {"id": self.voice.id}


def validate_speech(request: SpeechRequest, route: Route, *, max_chars: int | None = None) -> None:
    """Everything the served model cannot do is a 400 naming the param, before any upstream call."""
    model = route.model
    if not isinstance(model, TtsModel):
        raise InvalidRequest(f"Model {request.model!r} is a {model.kind} model; use it with /v1/audio/transcriptions.",
                             param="model", code="model_not_supported")
    caps: TtsCapabilities = model.capabilities
    limit = max_chars or caps.max_input_chars
    if not request.input.strip():
        raise InvalidRequest("`input` must not be empty.", param="input", code="empty_input")
    if len(request.input) > limit:
        raise InvalidRequest(f"`input` is {len(request.input)} characters; {model.id} accepts at most {limit}.",
                             param="input", code="string_above_max_length")
    if request.response_format not in caps.response_formats:
        raise InvalidRequest(f"{model.id} cannot produce {request.response_format!r}; choose one of {list(caps.response_formats)}.",
                             param="response_format", code="unsupported_value")
    if request.speed is not None and not caps.speed.min <= request.speed <= caps.speed.max:
        raise InvalidRequest(f"`speed` must be between {caps.speed.min} and {caps.speed.max}.",
                             param="speed", code="invalid_value")
    if request.instructions and not caps.instructions:
        raise InvalidRequest(f"{model.id} does not support `instructions`.", param="instructions", code="unsupported_parameter")
    if request.stream_format not in caps.stream_formats:
        raise InvalidRequest(f"{model.id} does not support stream_format {request.stream_format!r}.",
                             param="stream_format", code="unsupported_value")
    try:
        resolve_voice(route.targets[0].voice_set, request.voice_value)
    except UnknownVoice as exc:
        raise InvalidRequest(str(exc), param="voice", code="invalid_voice") from None


def speech_call_for(request: SpeechRequest, target: Target) -> SpeechCall:
    """Re-map the request for one target: upstream model, native voice, supported options.

    Instructions are a style hint and are dropped where the target has none; a format
    or stream mode the target cannot produce makes it unsuitable (skipped, recorded).
    """
    model = target.model
    assert isinstance(model, TtsModel) and target.voice_set is not None
    caps = model.capabilities
    if request.response_format not in caps.response_formats:
        raise Unsuitable(f"cannot produce {request.response_format}")
    if request.stream_format not in caps.stream_formats:
        raise Unsuitable(f"no stream_format {request.stream_format}")
    if len(request.input) > caps.max_input_chars:
        raise Unsuitable(f"input longer than {caps.max_input_chars} characters")
    try:
        voice = resolve_voice(target.voice_set, request.voice_value)
    except UnknownVoice as exc:
        raise Unsuitable(str(exc)) from None
    speed = request.speed
    if speed is not None:
        speed = min(max(speed, caps.speed.min), caps.speed.max)
    return SpeechCall(
        upstream_model=model.upstream_model,
        input=request.input,
        voice=voice,
        response_format=request.response_format,
        speed=speed,
        instructions=request.instructions if caps.instructions else None,
        stream_format=request.stream_format,
    )
