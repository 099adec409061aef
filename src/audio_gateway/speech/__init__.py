"""Text-to-speech: request validation, voice mapping, and re-mapping per target."""

from .request import SpeechRequest, VoiceRef, speech_call_for, validate_speech
from .voices import UnknownVoice, resolve_voice

__all__ = ["SpeechRequest", "VoiceRef", "speech_call_for", "validate_speech", "UnknownVoice", "resolve_voice"]
