"""Audio handling that does not depend on a provider: probing uploads, languages, transcripts, rendering.

Everything here is a pure function over bytes or frozen values, so the HTTP layer can call it from a
worker thread and tests can pin its output byte for byte.
"""

from .languages import LANGUAGES, guess_language, language_code, language_name
from .probe import ALLOWED_DEMUXERS, AudioInfo, UnreadableAudio, probe_audio
from .render import (
    EVENT_STREAM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    RESPONSE_FORMATS,
    TEXT_CONTENT_TYPE,
    Rendered,
    ResponseFormat,
    render_transcript,
    render_transcript_events,
)
from .transcript import Segment, Task, Transcript, Word, transcript_from_text

__all__ = [
    "ALLOWED_DEMUXERS",
    "EVENT_STREAM_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "LANGUAGES",
    "RESPONSE_FORMATS",
    "TEXT_CONTENT_TYPE",
    "AudioInfo",
    "Rendered",
    "ResponseFormat",
    "Segment",
    "Task",
    "Transcript",
    "UnreadableAudio",
    "Word",
    "guess_language",
    "language_code",
    "language_name",
    "probe_audio",
    "render_transcript",
    "render_transcript_events",
    "transcript_from_text",
]
