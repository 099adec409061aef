"""Text-to-speech: request validation, voice mapping, and re-mapping per target."""

from .request import Mismatch, SpeechRequest, VoiceRef, speech_call_for, speech_mismatches, validate_speech, wants_usage_stream
from .voices import UnknownVoice, resolve_voice

__all__ = ["Mismatch", "SpeechRequest", "VoiceRef", "speech_call_for", "speech_mismatches", "validate_speech", "wants_usage_stream", "UnknownVoice", "resolve_voice"]
