"""Provider adapters: one module per provider behind the small `Adapter` protocol."""

from .base import Adapter, AudioStream, SpeechCall, TranscriptionCall, UpstreamFailure
from .registry import ADAPTERS, build_adapter
from .transport import make_client

__all__ = ["Adapter", "AudioStream", "SpeechCall", "TranscriptionCall", "UpstreamFailure", "ADAPTERS",
           "build_adapter", "make_client"]
