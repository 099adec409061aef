"""Speech output formats and their Content-Types, as OpenAI sends them: one table for adapters and jobs."""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["SPEECH_CONTENT_TYPES", "speech_content_type"]

SPEECH_CONTENT_TYPES = MappingProxyType({
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
})


def speech_content_type(fmt: str) -> str:
    """`mp3` → `audio/mpeg`; ValueError for a format no TTS model produces."""
    try:
        return SPEECH_CONTENT_TYPES[fmt]
    except KeyError:
        raise ValueError(f"unknown audio format {fmt!r}; expected one of {', '.join(SPEECH_CONTENT_TYPES)}") from None
