"""Audio handling that does not depend on a provider: probing uploads, languages, transcripts, rendering.

Everything here is a pure function over bytes or frozen values, so the HTTP layer can call it from a
worker thread and tests can pin its output byte for byte.
"""

from .languages import LANGUAGES, guess_language, language_code, language_name
from .probe import ALLOWED_DEMUXERS, AudioInfo, UnreadableAudio, probe_audio
from .render import (
    DIARIZED_JSON,
    EVENT_STREAM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    RESPONSE_FORMATS,
    TEXT_CONTENT_TYPE,
    Rendered,
    ResponseFormat,
    render_transcript,
    render_transcript_events,
)
from .transcript import Logprob, Segment, SpeakerSegment, Task, Transcript, Word, transcript_from_text
from .transcript_events import DONE_SENTINEL, sse_delta, sse_done, sse_error, sse_segment, transcript_deltas
from .usage_report import DurationUsage, TokenDetails, TokenUsage, UsageReport

__all__ = [
    "ALLOWED_DEMUXERS",
    "DIARIZED_JSON",
    "DONE_SENTINEL",
    "DurationUsage",
    "Logprob",
    "SpeakerSegment",
    "TokenDetails",
    "TokenUsage",
    "UsageReport",
    "sse_delta",
    "sse_done",
    "sse_error",
    "sse_segment",
    "transcript_deltas",
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
