"""The compiled catalog: frozen, typed, and indexed so a request is only look-ups.

The spec Structs mirror the YAML one-to-one (decoded with msgspec after the JSON
Schema passed); `Plan` adds the indexes and resolved fallback chains.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import ClassVar, Literal

import msgspec

from ..billing.units import ModelKind, Unit

__all__ = [
    "Timeouts", "BreakerSettings", "Provider", "ProviderOverrides", "VoiceSet", "BillingComponent", "Estimate",
    "Fallback", "SpeedRange", "TtsCapabilities", "SttCapabilities", "TtsModel", "SttModel", "Model", "Target",
    "Route", "Plan", "ModelKind", "HeaderAuth", "AuthScheme",
]


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Timeouts(_Spec):
    connect_seconds: float = 5.0
    first_byte_seconds: float = 30.0
    read_seconds: float = 60.0


class BreakerSettings(_Spec):
    """After `failure_threshold` consecutive provider faults, skip the provider for `cooldown_seconds`."""

    enabled: bool = True
    failure_threshold: int = 3
    cooldown_seconds: float = 30.0


class HeaderAuth(_Spec):
    """The key travels in a named header (`X-API-Key: <key>`), optionally after a prefix (`Token `)."""

    header: str
    prefix: str = ""


# `bearer`: Authorization: Bearer <key> (OpenAI, SiliconFlow); `none`: a keyless self-hosted server.
AuthScheme = Literal["bearer", "none"] | HeaderAuth


class Provider(_Spec):
    name: str
    adapter: str
    base_url: str
    api_key: str = ""
    auth: AuthScheme = "bearer"
    description: str = ""
    timeouts: Timeouts = Timeouts()
    max_connections: int = 100
    circuit_breaker: BreakerSettings = BreakerSettings()

    @property
    def configured(self) -> bool:
        """Callable at all: a provider that needs a key and has none is skipped by routing, not refused."""
        return self.auth == "none" or bool(self.api_key)

    @property
    def not_configured_reason(self) -> str:
        return "" if self.configured else "no API key configured"

    def __repr__(self) -> str:  # keys must never reach a log through a repr
        return f"Provider(name={self.name!r}, adapter={self.adapter!r}, base_url={self.base_url!r}, api_key=<redacted>)"


class ProviderOverrides(msgspec.Struct, frozen=True, kw_only=True):
    """Operator settings that override every provider's catalog values (tests and incident response)."""

    upstream_timeout: float | None = None     # connect, first byte and read alike
    breaker_enabled: bool | None = None
    breaker_threshold: int | None = None
    breaker_cooldown: float | None = None

    def apply(self, provider: Provider) -> Provider:
        if self.upstream_timeout is not None:
            t = self.upstream_timeout
            provider = msgspec.structs.replace(
                provider, timeouts=Timeouts(connect_seconds=t, first_byte_seconds=t, read_seconds=t))
        breaker = provider.circuit_breaker
        if self.breaker_enabled is not None:
            breaker = msgspec.structs.replace(breaker, enabled=self.breaker_enabled)
        if self.breaker_threshold is not None:
            breaker = msgspec.structs.replace(breaker, failure_threshold=self.breaker_threshold)
        if self.breaker_cooldown is not None:
            breaker = msgspec.structs.replace(breaker, cooldown_seconds=self.breaker_cooldown)
        return msgspec.structs.replace(provider, circuit_breaker=breaker)


class VoiceSet(_Spec):
    name: str
    voices: tuple[str, ...]
    default: str
    unknown: Literal["default", "reject"] = "reject"
    custom_voice_ids: bool = False
    map: Mapping[str, str] = msgspec.field(default_factory=dict)
    description: str = ""


class Estimate(_Spec):
    """A stand-in for a provider-reported quantity: `ratio` × a unit the gateway measures itself.

    Used when the provider reports nothing for the unit (the ledger marks the line estimated) and to
    reserve a budget before the call."""

    from_: Unit = msgspec.field(name="from")
    ratio: Decimal


class BillingComponent(_Spec):
    """`price_usd` buys `per` units. Minutes are compiled to seconds (per × 60)."""

    unit: Unit
    price_usd: Decimal
    per: int = 1
    tokenizer: str | None = None
    round_to_seconds: Decimal = Decimal(1)
    rounding: Literal["up", "down", "nearest"] = "up"
    estimate: Estimate | None = None


class Fallback(_Spec):
    model: str
    priority: int = 1


class SpeedRange(_Spec):
    min: float
    max: float


class TtsCapabilities(_Spec):
    response_formats: tuple[str, ...]
    max_input_chars: int
    stream_formats: tuple[str, ...] = ("audio",)
    max_job_input_chars: int = 200_000
    speed: SpeedRange = SpeedRange(min=0.25, max=4.0)
    instructions: bool = False


class SttCapabilities(_Spec):
    """What an STT model can do for a request; `transcription_mismatches` reads nothing else.

    `streaming`: `stream: true` is offered (the gateway cuts a finished transcript into events when the
    provider does not stream); `upstream_streaming`: the provider itself streams transcript events.
    `logprobs`: `include[]=logprobs` is honoured. `chunking`: `chunking_strategy` is passed on, and
    `chunking_required_over_seconds` is the length past which the provider demands one. `diarization`:
    speaker segments (`diarized_json`, `known_speaker_*`). `prompt`: the model takes a prompt."""

    response_formats: tuple[str, ...]
    upstream_response_format: str = "json"
    timestamp_granularities: tuple[str, ...] = ("segment",)
    translation: bool = False
    streaming: bool = True
    upstream_streaming: bool = False
    logprobs: bool = False
    chunking: bool = False
    chunking_required_over_seconds: float | None = None
    diarization: bool = False
    prompt: bool = True
    max_upload_bytes: int = 25 * 1024 * 1024
    max_duration_seconds: float | None = None


class _ModelBase(_Spec, tag_field="kind", kw_only=True):
    id: str
    provider: str
    upstream_model: str
    billing: tuple[BillingComponent, ...]
    aliases: tuple[str, ...] = ()
    description: str = ""
    strengths: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    fallbacks: tuple[Fallback, ...] = ()


class TtsModel(_ModelBase, tag="tts", kw_only=True):
    """A text-to-speech model; `kind: tts` in YAML selects this variant."""

    kind: ClassVar[ModelKind] = "tts"
    capabilities: TtsCapabilities
    voices: str


class SttModel(_ModelBase, tag="stt", kw_only=True):
    """A speech-to-text model; `kind: stt` in YAML selects this variant."""

    kind: ClassVar[ModelKind] = "stt"
    capabilities: SttCapabilities


Model = TtsModel | SttModel


class Target(msgspec.Struct, frozen=True):
    """One place a request can be served: a model, its provider and (tts) voice set."""

    model: Model
    provider: Provider
    voice_set: VoiceSet | None = None


class Route(msgspec.Struct, frozen=True):
    """A model and the targets to try for it, primary first, then fallbacks by priority."""

    model: Model
    targets: tuple[Target, ...]


class Plan(msgspec.Struct, frozen=True):
    """The immutable result of compiling a catalog directory."""

    providers: Mapping[str, Provider]
    voice_sets: Mapping[str, VoiceSet]
    routes: Mapping[str, Route]        # by model id
    aliases: Mapping[str, str]         # alias -> model id

    def resolve(self, name: str) -> Route | None:
        """A model id or alias → its route; None if the catalog has no such model."""
        return self.routes.get(self.aliases.get(name, name))

    @property
    def models(self) -> tuple[Model, ...]:
        return tuple(route.model for route in self.routes.values())
