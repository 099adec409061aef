"""Provider adapters: one module per provider behind the small `Adapter` protocol."""

from .base import Adapter, AudioStream, SpeechCall, TranscriptionCall, UpstreamFailure
from .registry import ADAPTERS, build_adapter, probe_provider
from .upstream import Upstream

__all__ = ["Adapter", "AudioStream", "SpeechCall", "TranscriptionCall", "UpstreamFailure", "ADAPTERS",
           "build_adapter", "probe_provider", "Upstream"]
