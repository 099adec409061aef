"""The gateway core: route → fallback → adapter → billing, shared by the HTTP API and job workers.

`Gateway.running(plan)` owns one adapter per provider (HTTP ones hold a pooled transport, closed on
exit), the providers' circuit breakers and their recent latencies. A routed model's targets are ordered
per request by the pure router (`routing.decide`) over a snapshot of that state; everything else is
look-ups in the compiled plan. A `Gateway` serves one catalog for its whole life; a reload builds a new
one (`generations.py` keeps the adapters, breakers and latencies of providers that did not change, and
swaps the two). Charges
are computed here, from the unit registry's measures over the model that served, so every caller
(sync endpoints, jobs) prices the same input identically.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

import msgspec

from .audio.transcript import Transcript
from .billing import Charge, RequestFacts, Unit, Usage, measure, pending_units, price, settle
from .billing.units import ModelKind
from .catalog import Plan, Route, Target
from .catalog.model import SttModel, TtsModel
from .errors import NotFound
from .providers import (
    Adapter,
    AudioStream,
    TranscriptionCall,
    TranscriptionResult,
    TranscriptStream,
    build_adapter,
    unavailable_reason,
)
from .routing import (
    CHAIN,
    Attempt,
    AttemptObserver,
    Breakers,
    Decision,
    LatencyStats,
    ProviderState,
    RouteFacts,
    Unsuitable,
    decide,
    serve_first,
)
from .routing.router import reachable
from .speech import SpeechRequest, speech_call_for

__all__ = ["Gateway", "SpeechOutcome", "TranscriptionOutcome", "TranscriptStreamOutcome", "speech_facts",
           "billed_seconds"]


def speech_facts(request: SpeechRequest, target: Target, text: str | None = None) -> RequestFacts:
    """What a speech request measures on one target (instructions count only where the target takes them)."""
    model = target.model
    assert isinstance(model, TtsModel)
    instructions = request.instructions if model.capabilities.instructions and request.instructions else ""
    return RequestFacts(kind="tts", text=request.input if text is None else text, instructions=instructions)


class SpeechOutcome(msgspec.Struct, frozen=True):
    stream: AudioStream
    target: Target
    attempts: tuple[Attempt, ...]
    request: SpeechRequest
    measured: Usage
    reports_usage: bool
    route: str = CHAIN          # why the first target was first (x-gateway-route)

    def usage(self) -> Usage:
        """While the stream runs: what the gateway measured. Once it has ended (however it ended): settled
        on the provider's report, with the catalog's estimates for whatever it never sent."""
        if self.stream.ended:
            return settle(self.measured, self.stream.usage, self.target.model.billing)
        return self.measured

    def charge(self) -> Charge:
        """Final once the stream has ended; before that, the provider-reported units are pending."""
        components = self.target.model.billing
        if self.stream.ended:
            return price(components, self.usage())
        return price(components, self.measured,
                     pending=pending_units(components, "tts", reports_usage=self.reports_usage))


class TranscriptionOutcome(msgspec.Struct, frozen=True):
    transcript: Transcript
    target: Target
    attempts: tuple[Attempt, ...]
    charge: Charge
    usage: Usage
    billed_seconds: int
    facts: RequestFacts
    route: str = CHAIN


def _unsuitable(route: Route, check: Callable[[Target], object]) -> frozenset[str]:
    """Targets whose capability check rejects the request (so no policy picks them)."""
    out = set()
    for target in reachable(route):
        try:
            check(target)
        except Unsuitable:
            out.add(target.model.id)
    return frozenset(out)


def billed_seconds(charge: Charge, facts: RequestFacts) -> int:
    """The whole seconds a duration `usage` reports: the billed second line, else the probe rounded up."""
    seconds_line = next((line for line in charge.lines if line.unit == Unit.SECOND), None)
    return int(seconds_line.quantity) if seconds_line else math.ceil(facts.audio_seconds or Decimal(0))


class TranscriptStreamOutcome(msgspec.Struct, frozen=True):
    """A `stream: true` transcription that has committed to a target (its first event is in hand).

    A provider stream reports usage in its done event, so its provider-reported units stay pending
    until then (or until the stream ended without one: the catalog's estimates); a stream the gateway
    made from a finished transcript is priced in full from the start."""

    stream: TranscriptStream
    target: Target
    attempts: tuple[Attempt, ...]
    facts: RequestFacts
    measured: Usage
    route: str = CHAIN

    @property
    def settled(self) -> bool:
        return not self.stream.upstream or self.stream.completed or self.stream.ended

    def usage(self) -> Usage:
        if self.settled:
            return settle(self.measured, self.stream.usage, self.target.model.billing)
        return self.measured

    def charge(self) -> Charge:
        components = self.target.model.billing
        if self.settled:
            return price(components, self.usage())
        return price(components, self.measured, pending=pending_units(components, "stt", reports_usage=True))


class Gateway:
    def __init__(self, plan: Plan, adapters: Mapping[str, Adapter], *, deadline: float | None = None,
                 unavailable: Mapping[str, str] | None = None, latency: LatencyStats | None = None,
                 breakers: Breakers | None = None, observer: AttemptObserver | None = None, version: str = "",
                 loaded_at: datetime | None = None):
        self.plan = plan
        self.adapters = MappingProxyType(dict(adapters))
        self.breakers = breakers if breakers is not None else Breakers(plan.providers.values())
        self.latency = latency if latency is not None else LatencyStats()  # fed by every call, read by `fastest`
        self.deadline = deadline  # seconds for a whole fallback chain (first byte for speech)
        self.observer = observer  # told about every attempt (metrics, traces)
        self.version = version    # the catalog's content hash, and when it was compiled
        self.loaded_at = loaded_at
        # Providers routing skips without a call, and why (no key, engine missing); /readyz shows it.
        self.unavailable = MappingProxyType(dict(unavailable or {}))
        # The largest upload any STT model accepts: the streaming reader's cap (each model's own is checked later).
        self.max_upload_bytes = max((m.capabilities.max_upload_bytes for m in plan.models if isinstance(m, SttModel)),
                                    default=25 * 1024 * 1024)

    @classmethod
    @asynccontextmanager
    async def running(cls, plan: Plan, *, deadline: float | None = None) -> AsyncIterator[Gateway]:
        adapters = {name: build_adapter(provider) for name, provider in plan.providers.items()}
        unavailable = {name: reason for name, provider in plan.providers.items()
                       if (reason := unavailable_reason(provider)) is not None}
        try:
            yield cls(plan, adapters, deadline=deadline, unavailable=unavailable)
        finally:
            for adapter in adapters.values():
                await adapter.aclose()

    def route(self, model: str) -> Route:
        route = self.plan.resolve(model)
        if route is None:
            raise NotFound(f"The model `{model}` does not exist. GET /v1/models lists the available models.",
                           param="model", code="model_not_found")
        return route

    def provider_state(self, kind: ModelKind) -> ProviderState:
        """What a routing decision reads of the live state: providers skipped now, recent latencies."""
        skipped = {name for name in self.plan.providers if self.breakers[name].state == "open"}
        return ProviderState(skipped=frozenset(skipped | set(self.unavailable)), latency=self.latency.views(kind))

    def decide_speech(self, request: SpeechRequest, route: Route, *, request_id: str = "",
                      fits: SpeechRequest | None = None) -> Decision:
        """The order `speech` will try targets in, and why. `fits`: the request whose capability check
        decides which targets are suitable, when it differs (a job is decided once, on its longest piece)."""
        if route.routing is None:
            return Decision(route.targets, CHAIN)
        probe = fits or request
        voice = request.voice if isinstance(request.voice, str) else request.voice.id
        facts = RouteFacts(kind="tts", request_id=request_id, text=request.input, instructions=request.instructions or "",
                           voice=voice, response_format=request.response_format,
                           unsuitable=_unsuitable(route, lambda target: speech_call_for(probe, target)))
        return decide(route, facts, self.provider_state("tts"))

    async def speech(self, request: SpeechRequest, route: Route, *, bill_as: str | None = None,
                     decision: Decision | None = None) -> SpeechOutcome:
        """Open the first target's audio stream that yields a first byte (validation is the caller's).

        `bill_as`: the text to measure instead of `request.input` (a job piece's share of the whole input).
        `decision`: the order made by `decide_speech` (made here, without a request id, when not given)."""
        decision = decision or self.decide_speech(request, route)
        calls = {}

        async def attempt(target: Target) -> AudioStream:
            call = calls[target.model.id] = speech_call_for(request, target)
            started = time.perf_counter()
            stream = await self.adapters[target.provider.name].speech(call)  # returns with the first chunk
            self.latency.observe(target.provider.name, "tts", time.perf_counter() - started)
            return stream

        served = await serve_first(decision.targets, attempt, breakers=self.breakers, deadline=self.deadline,
                                   unavailable=self.unavailable, observer=self.observer)
        target = served.target
        return SpeechOutcome(stream=served.value, target=target, attempts=served.attempts, request=request,
                             measured=measure(speech_facts(request, target, bill_as), target.model.billing),
                             reports_usage=calls[target.model.id].usage_stream, route=decision.reason)

    def decide_transcription(self, route: Route, prepare: Callable[[Target], TranscriptionCall], facts: RequestFacts,
                             *, language: str | None = None, response_format: str | None = None,
                             request_id: str = "") -> Decision:
        """The order `transcribe` will try targets in, and why (after probing: rules may read the duration)."""
        if route.routing is None:
            return Decision(route.targets, CHAIN)
        route_facts = RouteFacts(kind="stt", request_id=request_id, prompt=facts.prompt, language=language,
                                 response_format=response_format, audio_seconds=facts.audio_seconds,
                                 unsuitable=_unsuitable(route, prepare))
        return decide(route, route_facts, self.provider_state("stt"))

    async def transcribe(self, route: Route, prepare: Callable[[Target], TranscriptionCall],
                         facts: RequestFacts, *, decision: Decision | None = None) -> TranscriptionOutcome:
        """`prepare(target)` re-maps the call per target (raising `Unsuitable` to skip it); `decision` is
        `decide_transcription`'s order (the route's default order when not given).

        Priced on the model that served: the probed duration and the prompt it was sent measured by the
        gateway, token counts as the provider reported them (SenseVoice reports none, whisper-1 only a
        duration, gpt-4o-*-transcribe audio, text and output tokens)."""
        decision = decision or self.decide_transcription(route, prepare, facts)
        calls: dict[str, TranscriptionCall] = {}

        async def attempt(target: Target) -> TranscriptionResult:
            call = calls[target.model.id] = prepare(target)
            started = time.perf_counter()
            result = await self.adapters[target.provider.name].transcribe(call)
            self.latency.observe(target.provider.name, "stt", time.perf_counter() - started)
            return result

        served = await serve_first(decision.targets, attempt, breakers=self.breakers, deadline=self.deadline,
                                   unavailable=self.unavailable, observer=self.observer)
        components = served.target.model.billing
        facts = _served_facts(facts, calls[served.target.model.id])
        usage = settle(measure(facts, components), served.value.usage, components)
        charge = price(components, usage)
        return TranscriptionOutcome(transcript=served.value.transcript, target=served.target,
                                    attempts=served.attempts, charge=charge, usage=usage,
                                    billed_seconds=billed_seconds(charge, facts), facts=facts, route=decision.reason)

    async def transcribe_stream(self, route: Route, prepare: Callable[[Target], TranscriptionCall],
                                facts: RequestFacts, *, decision: Decision | None = None) -> TranscriptStreamOutcome:
        """Open the first target's transcript stream whose first event arrives (`stream: true`).

        A target whose call asks for the provider's stream is read event by event; any other is
        transcribed whole and cut into the same events. Either way routing commits only once the
        first event is in hand, so a failure before it falls back like any other."""
        decision = decision or self.decide_transcription(route, prepare, facts)
        calls: dict[str, TranscriptionCall] = {}

        async def attempt(target: Target) -> TranscriptStream:
            call = calls[target.model.id] = prepare(target)
            adapter = self.adapters[target.provider.name]
            started = time.perf_counter()
            if call.stream:
                stream = await adapter.transcribe_stream(call)
            else:
                result = await adapter.transcribe(call)
                stream = TranscriptStream.of_transcript(result.transcript, result.usage)
            self.latency.observe(target.provider.name, "stt", time.perf_counter() - started)
            return stream

        served = await serve_first(decision.targets, attempt, breakers=self.breakers, deadline=self.deadline,
                                   unavailable=self.unavailable, observer=self.observer)
        target = served.target
        facts = _served_facts(facts, calls[target.model.id])
        return TranscriptStreamOutcome(stream=served.value, target=target, attempts=served.attempts, facts=facts,
                                       measured=measure(facts, target.model.billing), route=decision.reason)


def _served_facts(facts: RequestFacts, call: TranscriptionCall) -> RequestFacts:
    """The request as the serving target received it: a prompt it was not sent is not billed."""
    prompt = call.prompt or ""
    return facts if facts.prompt == prompt else msgspec.structs.replace(facts, prompt=prompt)
