"""FakeSiliconFlow: SiliconFlow's speech and transcription endpoints, with its NOT OpenAI-shaped errors.

SiliconFlow answers 400s as ``{"code": 20012, "message": ..., "data": null}``, auth and routing failures as
plain text, and rate limits without a ``code``. Bodies marked unconfirmed in shared/PROVIDERS.md live in
``ERROR_BODIES`` alone, so correcting one is a one-line change.
"""

from __future__ import annotations

import secrets
from typing import Final

import msgspec

from .audio import probe_duration, synthesize
from .base import FakeProvider, ProviderError, Reply, Route, split_chunks
from .recording import RecordedRequest

__all__ = [
    "ERROR_BODIES",
    "SPEECH_CONTENT_TYPES",
    "SPEECH_MODELS",
    "STT_MODELS",
    "VOICE_NAMES",
    "FakeSiliconFlow",
]

SPEECH_MODELS: Final = ("FunAudioLLM/CosyVoice2-0.5B", "fishaudio/fish-speech-1.5", "IndexTeam/IndexTTS-2")
STT_MODELS: Final = ("FunAudioLLM/SenseVoiceSmall", "TeleAI/TeleSpeechASR")
VOICE_NAMES: Final = ("alex", "benjamin", "charles", "david", "anna", "bella", "claire", "diana")
# Content types are unconfirmed; the formats, rates and defaults are from SiliconFlow's docs.
SPEECH_CONTENT_TYPES: Final = {"mp3": "audio/mpeg", "opus": "audio/opus", "wav": "audio/wav", "pcm": "audio/pcm"}
SAMPLE_RATES: Final[dict[str, tuple[int, ...]]] = {
    "mp3": (32000, 44100),
    "opus": (48000,),
    "wav": (8000, 16000, 24000, 32000, 44100),
    "pcm": (8000, 16000, 24000, 32000, 44100),
}
_DEFAULT_RATES: Final = {"mp3": 44100, "opus": 48000, "wav": 44100, "pcm": 44100}
_MAX_INPUT: Final = 128_000
_MAX_SECONDS: Final = 3600

# status -> (content type, body); "{message}" is filled in for 400s. 413/502/503/504 are unconfirmed.
_JSON: Final = "application/json; charset=utf-8"
_TEXT: Final = "text/plain; charset=utf-8"
ERROR_BODIES: Final[dict[int, tuple[str, str]]] = {
    400: (_JSON, '{"code":20012,"message":{message},"data":null}'),
    401: (_TEXT, "Invalid token"),
    403: (_TEXT, "Forbidden"),
    404: (_TEXT, "404 page not found"),
    413: (_JSON, '{"code":20015,"message":"Request entity too large","data":null}'),
    429: (
        _JSON,
        '{"message":"Request was rejected due to rate limiting. If you want more, please contact '
        'contact@siliconflow.cn. Details:TPM limit reached.","data":null}',
    ),
    500: (_JSON, '{"code":50500,"message":"Internal Server Error","data":null}'),
    502: (_JSON, '{"code":50502,"message":"Bad Gateway","data":null}'),
    503: (_JSON, '{"code":50505,"message":"Model service overloaded. Please try again later.","data":null}'),
    504: (_JSON, '{"code":50603,"message":"The system is busy. Please try again later.","data":null}'),
}
_NO_MODEL: Final = "Model does not exist. Please check it carefully."


class FakeSiliconFlow(FakeProvider):
    """SiliconFlow's /v1/audio/speech and /v1/audio/transcriptions."""

    DEFAULT_API_KEY = "sk-test-siliconflow"
    MAX_BODY_BYTES = 50 * 1024 * 1024  # "≤ 50 MB" in SiliconFlow's docs

    def _build_routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("POST", "/v1/audio/speech"): self._speech,
            ("POST", "/v1/audio/transcriptions"): self._transcriptions,
        }

    def _response_headers(self, elapsed_ms: int) -> list[tuple[str, str]]:
        return [("x-siliconcloud-trace-id", secrets.token_hex(16))]

    def _status_error(self, status: int, request: RecordedRequest) -> ProviderError:
        return ProviderError(status, "Invalid request" if status == 400 else "")

    def _error_reply(self, error: ProviderError, request: RecordedRequest) -> Reply:
        content_type, template = ERROR_BODIES.get(error.status, ERROR_BODIES[500])
        body = template.replace("{message}", msgspec.json.encode(error.message).decode())
        return Reply(error.status, [("content-type", content_type)], [body.encode()])

    # -- speech -------------------------------------------------------------------------------------------

    def _speech(self, request: RecordedRequest) -> Reply:
        body = request.json
        if not isinstance(body, dict):
            raise ProviderError(400, "Invalid JSON body")
        model = body.get("model")
        if model not in SPEECH_MODELS:
            raise ProviderError(400, _NO_MODEL)
        text = body.get("input")
        if not isinstance(text, str) or not 1 <= len(text) <= _MAX_INPUT:
            raise ProviderError(400, f"input must be a string of 1 to {_MAX_INPUT} characters")
        voice = body.get("voice")
        prefix, _, name = voice.partition(":") if isinstance(voice, str) else ("", "", "")
        if prefix != model or name not in VOICE_NAMES:
            raise ProviderError(400, f"Invalid voice: {voice!r}; expected '{model}:<name>' with a system voice name")
        fmt = body.get("response_format", "mp3")
        if fmt not in SPEECH_CONTENT_TYPES:
            raise ProviderError(400, f"Unsupported response_format: {fmt!r}")
        rate = body.get("sample_rate", _DEFAULT_RATES[fmt])
        if rate not in SAMPLE_RATES[fmt]:
            raise ProviderError(400, f"Unsupported sample_rate {rate!r} for {fmt}")
        _check_range(body, "speed", 0.25, 4.0)
        _check_range(body, "gain", -10.0, 10.0)
        stream = body.get("stream", True)
        if not isinstance(stream, bool):
            raise ProviderError(400, "stream must be a boolean")
        audio = self.speech_body if self.speech_body is not None else synthesize(fmt, self.audio_seconds, rate)
        chunks = split_chunks(audio, self.chunk_size)
        return Reply(200, [("content-type", SPEECH_CONTENT_TYPES[fmt])], chunks, stream=stream)

    # -- transcriptions -------------------------------------------------------------------------------------

    def _transcriptions(self, request: RecordedRequest) -> Reply:
        if not request.multipart:
            raise ProviderError(400, "Content-Type must be multipart/form-data")
        upload = request.file
        if upload is None:
            raise ProviderError(400, "file is required")
        model = request.form.get("model")
        if model not in STT_MODELS:
            raise ProviderError(400, _NO_MODEL)
        duration = probe_duration(upload.data)
        if duration is None:
            raise ProviderError(400, "Invalid audio file")
        if duration > _MAX_SECONDS:
            raise ProviderError(400, "Audio duration exceeds the 1 hour limit")
        body = msgspec.json.encode({"text": self.transcript_text.strip()})
        return Reply(200, [("content-type", _JSON)], [body])


def _check_range(body: dict[str, object], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ProviderError(400, f"{name} must be between {low:g} and {high:g}")
