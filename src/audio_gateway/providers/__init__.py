"""Provider adapters: one module per provider behind the small `Adapter` protocol.

HTTP providers are pure translators (`openai.py`, `siliconflow.py`) over one shared runner
(`runner.py`: I/O, deadlines, status and content-type checks, bounded bodies, redaction)."""

from .base import (
    Adapter,
    AudioStream,
    ChunkingStrategy,
    ServerVad,
    SpeechCall,
    TranscriptDelta,
    TranscriptDone,
    TranscriptEvent,
    TranscriptionCall,
    TranscriptionResult,
    TranscriptSegment,
    TranscriptStream,
)
from .failures import FailureKind, UpstreamFailure
from .registry import ADAPTERS, ClosableAdapter, build_adapter, unavailable_reason
from .upstream import Upstream

__all__ = ["Adapter", "AudioStream", "ClosableAdapter", "FailureKind", "SpeechCall", "TranscriptionCall",
           "TranscriptionResult", "UpstreamFailure", "ADAPTERS", "build_adapter", "unavailable_reason", "Upstream",
           "ChunkingStrategy", "ServerVad", "TranscriptDelta", "TranscriptDone", "TranscriptEvent", "TranscriptSegment",
           "TranscriptStream"]
