"""The fake OpenAI's transcription rules and answers for the current models (pure functions).

What shared/specs/openai-openapi.yaml and shared/PROVIDERS.md document for whisper-1, gpt-4o-transcribe,
gpt-4o-mini-transcribe and gpt-4o-transcribe-diarize: which model takes which field (`stream`, `include[]`,
`chunking_strategy`, `known_speaker_*`, `prompt`), the error each refusal gets, token usage objects,
`diarized_json` bodies and the `stream=true` event sequence. Where OpenAI's exact wording is unknown the
message is ours, but the status, `param` and `code` follow OpenAI's pattern, so the gateway is tested
against the shapes, never against our own wording.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from . import whisper
from .audio import probe_duration
from .base import ProviderError
from .recording import RecordedRequest

__all__ = [
    "STT_MODELS",
    "ALL_FORMATS",
    "DIARIZE_MODEL",
    "SttOptions",
    "read_options",
    "transcription_token_usage",
    "logprobs_for",
    "word_deltas",
    "diarized_segments",
    "stream_events",
    "CHUNKING_REQUIRED_OVER",
]

WHISPER_FORMATS: Final = ("json", "text", "srt", "verbose_json", "vtt")
ALL_FORMATS: Final = (*WHISPER_FORMATS, "diarized_json")
DIARIZE_MODEL: Final = "gpt-4o-transcribe-diarize"
STT_MODELS: Final = {
    "whisper-1": WHISPER_FORMATS,
    "gpt-4o-transcribe": ("json", "text"),
    "gpt-4o-mini-transcribe": ("json", "text"),
    "gpt-4o-mini-transcribe-2025-12-15": ("json", "text"),
    DIARIZE_MODEL: ("json", "text", "diarized_json"),
}
_LOGPROB_MODELS: Final = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-mini-transcribe-2025-12-15")
CHUNKING_REQUIRED_OVER: Final = 30.0   # seconds of audio past which diarize demands a chunking_strategy
_VAD_KEYS: Final = ("type", "prefix_padding_ms", "silence_duration_ms", "threshold")
_MAX_SPEAKERS: Final = 4


@dataclass(frozen=True, slots=True)
class SttOptions:
    """The transcription fields beyond format and granularity, as the fake understood them."""

    stream: bool
    logprobs: bool
    chunking: str | dict[str, Any] | None
    speakers: tuple[str, ...]


def _field(request: RecordedRequest, name: str) -> str | None:
    value = request.form.get(name)
    return value[-1] if isinstance(value, list) else value


def _unsupported(param: str, message: str) -> ProviderError:
    return ProviderError(400, message, param=param, code="unsupported_parameter")


def _bad_chunking(message: str) -> ProviderError:
    return ProviderError(400, message, param="chunking_strategy", code="invalid_value")


def _chunking(request: RecordedRequest) -> str | dict[str, Any] | None:
    """`auto`, a server_vad object as JSON text, or the SDK's bracketed parts; anything else is a 400."""
    nested = {key[len("chunking_strategy["):-1]: value for key, value in request.form.items()
              if key.startswith("chunking_strategy[") and key.endswith("]")}
    raw = _field(request, "chunking_strategy")
    if nested and raw is not None:
        raise _bad_chunking("chunking_strategy was given twice.")
    if raw is not None:
        if raw == "auto":
            return "auto"
        try:
            decoded = json.loads(raw)
        except json.JSONDecodeError:
            raise _bad_chunking(f"Invalid value: '{raw}'. Supported values are: 'auto' or a server_vad object.") from None
        if not isinstance(decoded, dict):
            raise _bad_chunking(f"Invalid value: '{raw}'. Supported values are: 'auto' or a server_vad object.")
        nested = decoded
    if not nested:
        return None
    unknown = sorted(set(nested) - set(_VAD_KEYS))
    if unknown:
        raise _bad_chunking(f"Unknown parameter: 'chunking_strategy.{unknown[0]}'.")
    if nested.get("type") != "server_vad":
        raise _bad_chunking(f"Invalid value: '{nested.get('type')}'. Supported values are: 'server_vad'.")
    vad: dict[str, Any] = {"type": "server_vad"}
    for key in ("prefix_padding_ms", "silence_duration_ms"):
        if key in nested:
            try:
                vad[key] = int(nested[key])
            except (TypeError, ValueError):
                raise _bad_chunking(f"Invalid type for 'chunking_strategy.{key}': expected an integer.") from None
    if "threshold" in nested:
        try:
            vad["threshold"] = float(nested["threshold"])
        except (TypeError, ValueError):
            raise _bad_chunking("Invalid type for 'chunking_strategy.threshold': expected a decimal.") from None
        if not 0 <= vad["threshold"] <= 1:
            raise _bad_chunking("Invalid 'chunking_strategy.threshold': expected a value between 0 and 1.")
    return vad


def _speakers(request: RecordedRequest, model: str) -> tuple[str, ...]:
    names = request.form_list("known_speaker_names")
    references = request.form_list("known_speaker_references")
    if not names and not references:
        return ()
    if model != DIARIZE_MODEL:
        raise _unsupported("known_speaker_names", f"known_speaker_names is not supported for model '{model}'.")
    if len(names) > _MAX_SPEAKERS or len(references) > _MAX_SPEAKERS:
        raise ProviderError(400, f"At most {_MAX_SPEAKERS} known speakers are supported.",
                            param="known_speaker_names", code="array_above_max_length")
    if len(names) != len(references):
        raise ProviderError(400, "known_speaker_names and known_speaker_references must have the same length.",
                            param="known_speaker_references", code="invalid_value")
    for reference in references:
        head, _, data = reference.partition(",")
        try:
            clip = base64.b64decode(data, validate=True) if head.startswith("data:") and head.endswith(";base64") else b""
        except (binascii.Error, ValueError):
            clip = b""
        seconds = probe_duration(clip) if clip else None
        if seconds is None or not 2 <= seconds <= 10:
            raise ProviderError(400, "Each known speaker reference must be a data URL of 2 to 10 seconds of audio.",
                                param="known_speaker_references", code="invalid_value")
    return tuple(names)


def read_options(request: RecordedRequest, model: str, fmt: str, task: str) -> SttOptions:
    """Validate the newer fields against the model, in OpenAI's order: stream, include, prompt, chunking, speakers."""
    stream_raw = (_field(request, "stream") or "false").lower()
    if stream_raw not in ("true", "false"):
        raise ProviderError(400, f"Invalid type for 'stream': expected a boolean, but got '{stream_raw}'.",
                            param="stream", code="invalid_type")
    stream = stream_raw == "true" and task == "transcribe"
    if stream and model == "whisper-1":
        raise ProviderError(400, "Streaming is not supported for the whisper-1 model.", param="stream",
                            code="unsupported_value")
    include = request.form_list("include")
    for value in include:
        if value != "logprobs":
            raise ProviderError(400, f"Invalid value: '{value}'. Supported values are: 'logprobs'.", param="include",
                                code="invalid_value")
    logprobs = "logprobs" in include
    if logprobs and model not in _LOGPROB_MODELS:
        raise _unsupported("include", f"logprobs is not supported for model '{model}'.")
    if logprobs and fmt != "json":
        raise ProviderError(400, "logprobs are only supported when response_format is json.", param="include",
                            code="unsupported_value")
    if _field(request, "prompt") and model == DIARIZE_MODEL:
        raise _unsupported("prompt", f"prompt is not supported for model '{model}'.")
    chunking = _chunking(request)
    if chunking is not None and model == "whisper-1":
        raise _unsupported("chunking_strategy", "chunking_strategy is not supported for model 'whisper-1'.")
    return SttOptions(stream=stream, logprobs=logprobs, chunking=chunking, speakers=_speakers(request, model))


def check_chunking_needed(model: str, duration: float, options: SttOptions) -> None:
    if model == DIARIZE_MODEL and duration > CHUNKING_REQUIRED_OVER and options.chunking is None:
        raise ProviderError(400, f"chunking_strategy is required for audio longer than {CHUNKING_REQUIRED_OVER:g} "
                                 f"seconds with model '{model}'.", param="chunking_strategy",
                            code="missing_required_parameter")


def transcription_token_usage(text: str, prompt: str | None, seconds: float) -> dict[str, Any]:
    """The ``usage`` gpt-4o-*-transcribe report: 10 audio tokens per second plus prompt words in, words out."""
    audio_tokens = math.ceil(seconds * 10)
    text_tokens = len((prompt or "").split())
    output_tokens = len(text.split()) + 1
    return {
        "type": "tokens",
        "input_tokens": audio_tokens + text_tokens,
        "input_token_details": {"text_tokens": text_tokens, "audio_tokens": audio_tokens},
        "output_tokens": output_tokens,
        "total_tokens": audio_tokens + text_tokens + output_tokens,
    }


def logprobs_for(piece: str) -> list[dict[str, Any]]:
    """One logprob entry per word of ``piece`` (a fixed, recognisable figure)."""
    return [{"token": word, "logprob": -0.01, "bytes": list(word.encode())} for word in piece.split()]


def word_deltas(text: str) -> list[str]:
    """The text as streamed: the first word, then each later word with its leading space."""
    words = text.split(" ")
    return [words[0], *(f" {word}" for word in words[1:])] if text else []


def diarized_segments(text: str, duration: float, speakers: tuple[str, ...]) -> list[dict[str, Any]]:
    """One segment per sentence, speakers taking turns (the known names, else A, B)."""
    names = speakers or ("A", "B")
    return [
        {"type": "transcript.text.segment", "id": f"seg_{index + 1:03d}", "start": seg.start, "end": seg.end,
         "text": seg.text.strip(), "speaker": names[index % len(names)]}
        for index, seg in enumerate(whisper.segments(text, duration))
    ]


def _sse(event: dict[str, Any]) -> bytes:
    return b"data: " + msgspec.json.encode(event) + b"\n\n"


def stream_events(text: str, usage: dict[str, Any] | None, *, logprobs: bool,
                  segments: list[dict[str, Any]] | None) -> list[bytes]:
    """The `stream=true` body, one SSE event per list item (the unit the fake's faults cut after).

    Word deltas (with logprobs when asked); for diarize, each segment's deltas carry its `segment_id` and
    are followed by its `transcript.text.segment`; then `transcript.text.done` with text and usage."""
    events: list[bytes] = []
    pieces: list[tuple[str, str | None]]
    if segments is not None:
        pieces = []
        for segment in segments:
            first = not pieces
            pieces += [(d if first or i else f" {d}", segment["id"]) for i, d in enumerate(word_deltas(segment["text"]))]
            pieces.append(("", segment["id"]))  # marks the segment's end
    else:
        pieces = [(delta, None) for delta in word_deltas(text)]
    by_id = {segment["id"]: segment for segment in segments or []}
    for delta, segment_id in pieces:
        if not delta and segment_id is not None:
            events.append(_sse(by_id[segment_id]))
            continue
        event: dict[str, Any] = {"type": "transcript.text.delta", "delta": delta}
        if logprobs:
            event["logprobs"] = logprobs_for(delta)
        if segment_id is not None:
            event["segment_id"] = segment_id
        events.append(_sse(event))
    done: dict[str, Any] = {"type": "transcript.text.done", "text": text}
    if logprobs:
        done["logprobs"] = logprobs_for(text)
    if usage is not None:
        done["usage"] = usage
    events.append(_sse(done))
    return events
