"""Voice mapping: what the caller asked for → a voice the target model has. Pure."""

from __future__ import annotations

from ..catalog.model import VoiceSet

__all__ = ["resolve_voice", "UnknownVoice"]


class UnknownVoice(ValueError):
    """The voice set rejects unknown names (OpenAI's own behaviour)."""


def resolve_voice(voice_set: VoiceSet, requested: str | dict[str, str]) -> str | dict[str, str]:
    """Native names pass through, mapped names translate, the rest get the default or are refused.

    A custom voice `{"id": ...}` passes through only where the set allows custom ids;
    elsewhere it is treated as an unknown name.
    """
    if isinstance(requested, dict):
        if voice_set.custom_voice_ids:
            return requested
        name = requested.get("id", "")
    else:
        name = requested
    if name in voice_set.voices:
        return name
    if name in voice_set.map:
        return voice_set.map[name]
    if voice_set.unknown == "default":
        return voice_set.default
    raise UnknownVoice(f"Voice {name!r} is not available for this model. Choose one of: {', '.join(voice_set.voices)}.")
