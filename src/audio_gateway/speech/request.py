"""The `/v1/audio/speech` body and the one capability check every target goes through.

`speech_mismatches` lists what a model cannot do for a request. The same list gives the 400 before any
upstream call (every mismatch of the model the client named) and the skipping of an unsuitable fallback
target (only the mismatches a target cannot absorb: a fallback drops `instructions` it has no use for
and clamps `speed` to its range, and the gateway itself frames audio as SSE for any target).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ..billing import UNITS, Source
from ..catalog.model import Route, Target, TtsModel, VoiceSet
from ..errors import InvalidRequest
from ..providers.base import SpeechCall
from ..routing import Unsuitable
from .voices import UnknownVoice, resolve_voice

__all__ = ["VoiceRef", "SpeechRequest", "Mismatch", "speech_mismatches", "validate_speech", "speech_call_for",
           "wants_usage_stream"]

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


class Mismatch(msgspec.Struct, frozen=True):
    """One thing a model cannot do for a request. `absorbed`: a fallback target serves anyway (adjusted)."""

    param: str
    code: str
    message: str
    absorbed: bool = False


def speech_mismatches(request: SpeechRequest, model: TtsModel, voice_set: VoiceSet, *,
                      max_chars: int | None = None) -> list[Mismatch]:
    caps = model.capabilities
    limit = max_chars or caps.max_input_chars
    found = []
    if not request.input.strip():
        found.append(Mismatch("input", "empty_input", "`input` must not be empty."))
    if len(request.input) > limit:
        found.append(Mismatch("input", "string_above_max_length",
                              f"`input` is {len(request.input)} characters; {model.id} accepts at most {limit}."))
    if request.response_format not in caps.response_formats:
        found.append(Mismatch("response_format", "unsupported_value",
                              f"{model.id} cannot produce {request.response_format!r}; choose one of "
                              f"{list(caps.response_formats)}."))
    if request.speed is not None and not caps.speed.min <= request.speed <= caps.speed.max:
        found.append(Mismatch("speed", "invalid_value", f"`speed` must be between {caps.speed.min} and {caps.speed.max}.",
                              absorbed=True))
    if request.instructions and not caps.instructions:
        found.append(Mismatch("instructions", "unsupported_parameter", f"{model.id} does not support `instructions`.",
                              absorbed=True))
    if request.stream_format not in caps.stream_formats:
        found.append(Mismatch("stream_format", "unsupported_value",
                              f"{model.id} does not support stream_format {request.stream_format!r}.", absorbed=True))
    try:
        resolve_voice(voice_set, request.voice_value)
    except UnknownVoice as exc:
        found.append(Mismatch("voice", "invalid_voice", str(exc)))
    return found


def validate_speech(request: SpeechRequest, route: Route, *, max_chars: int | None = None) -> None:
    """Everything the named model cannot do is a 400 naming the param, before any upstream call."""
    model = route.model
    if not isinstance(model, TtsModel):
        raise InvalidRequest(f"Model {request.model!r} is a {model.kind} model; use it with /v1/audio/transcriptions.",
                             param="model", code="model_not_supported")
    voice_set = route.targets[0].voice_set
    assert voice_set is not None
    for mismatch in speech_mismatches(request, model, voice_set, max_chars=max_chars)[:1]:
        raise InvalidRequest(mismatch.message, param=mismatch.param, code=mismatch.code)


def wants_usage_stream(model: TtsModel) -> bool:
    """Ask the provider for its event stream when the billing needs a provider report and it has one."""
    reported = any(UNITS[c.unit].sources.get("tts") == Source.PROVIDER for c in model.billing)
    return reported and "sse" in model.capabilities.stream_formats


def speech_call_for(request: SpeechRequest, target: Target) -> SpeechCall:
    """Re-map the request for one target: upstream model, native voice, supported options.

    A target with a mismatch it cannot absorb is unsuitable (skipped, recorded); instructions are a
    style hint dropped where the target has none, and speed is clamped to the target's range."""
    model = target.model
    assert isinstance(model, TtsModel) and target.voice_set is not None
    blocking = [m for m in speech_mismatches(request, model, target.voice_set) if not m.absorbed]
    if blocking:
        raise Unsuitable(blocking[0].message)
    caps = model.capabilities
    speed = request.speed
    if speed is not None:
        speed = min(max(speed, caps.speed.min), caps.speed.max)
    return SpeechCall(
        upstream_model=model.upstream_model,
        input=request.input,
        voice=resolve_voice(target.voice_set, request.voice_value),
        response_format=request.response_format,
        speed=speed,
        instructions=request.instructions if caps.instructions else None,
        usage_stream=wants_usage_stream(model),
    )
