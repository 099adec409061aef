"""The gateway core: route → fallback → adapter → billing, shared by the HTTP API and job workers.

`Gateway.running(plan)` owns one adapter per provider (HTTP ones hold a pooled transport, closed on
exit) and the providers' circuit breakers. Everything else is look-ups in the compiled plan. A
`Gateway` serves one catalog for its whole life; a reload builds a new one (`generations.py` keeps
the adapters and breakers of providers that did not change, and swaps the two). Charges
are computed here, from the unit registry's measures over the model that served, so every caller
(sync endpoints, jobs) prices the same input identically.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

import msgspec

from .audio.transcript import Transcript
from .billing import Charge, RequestFacts, Unit, Usage, measure, pending_units, price, settle
from .catalog import Plan, Route, Target
from .catalog.model import SttModel, TtsModel
from .errors import NotFound
from .providers import Adapter, AudioStream, TranscriptionCall, TranscriptionResult, build_adapter, unavailable_reason
from .routing import Attempt, AttemptObserver, Breakers, serve_first
from .speech import SpeechRequest, speech_call_for

__all__ = ["Gateway", "SpeechOutcome", "TranscriptionOutcome", "speech_facts"]


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


class Gateway:
    def __init__(self, plan: Plan, adapters: Mapping[str, Adapter], *, deadline: float | None = None,
                 unavailable: Mapping[str, str] | None = None, breakers: Breakers | None = None,
                 observer: AttemptObserver | None = None, version: str = "", loaded_at: datetime | None = None):
        self.plan = plan
        self.adapters = MappingProxyType(dict(adapters))
        self.breakers = breakers if breakers is not None else Breakers(plan.providers.values())
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

    async def speech(self, request: SpeechRequest, route: Route, *, bill_as: str | None = None) -> SpeechOutcome:
        """Open the first target's audio stream that yields a first byte (validation is the caller's).

        `bill_as`: the text to measure instead of `request.input` (a job piece's share of the whole input)."""
        calls = {}

        async def attempt(target: Target) -> AudioStream:
            call = calls[target.model.id] = speech_call_for(request, target)
            return await self.adapters[target.provider.name].speech(call)

        served = await serve_first(route.targets, attempt, breakers=self.breakers, deadline=self.deadline,
                                   unavailable=self.unavailable, observer=self.observer)
        target = served.target
        return SpeechOutcome(stream=served.value, target=target, attempts=served.attempts, request=request,
                             measured=measure(speech_facts(request, target, bill_as), target.model.billing),
                             reports_usage=calls[target.model.id].usage_stream)

    async def transcribe(self, route: Route, prepare: Callable[[Target], TranscriptionCall],
                         facts: RequestFacts) -> TranscriptionOutcome:
        """`prepare(target)` re-maps the call per target (raising `Unsuitable` to skip it).

        Priced on the model that served: the probed duration and prompt measured by the gateway, token
        counts as the provider reported them (SenseVoice reports none, whisper-1 only a duration)."""

        async def attempt(target: Target) -> TranscriptionResult:
            return await self.adapters[target.provider.name].transcribe(prepare(target))

        served = await serve_first(route.targets, attempt, breakers=self.breakers, deadline=self.deadline,
                                   unavailable=self.unavailable, observer=self.observer)
        components = served.target.model.billing
        usage = settle(measure(facts, components), served.value.usage, components)
        charge = price(components, usage)
        seconds_line = next((line for line in charge.lines if line.unit == Unit.SECOND), None)
        billed = int(seconds_line.quantity) if seconds_line else math.ceil(facts.audio_seconds or Decimal(0))
        return TranscriptionOutcome(transcript=served.value.transcript, target=served.target,
                                    attempts=served.attempts, charge=charge, usage=usage, billed_seconds=billed,
                                    facts=facts)
