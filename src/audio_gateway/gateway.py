"""The gateway core: route → fallback → adapter → billing, shared by the HTTP API and job workers.

`Gateway.running(plan)` owns the provider upstreams (one pooled transport per
provider, closed on exit) and the providers' circuit breakers. Everything else is
look-ups in the compiled plan.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from types import MappingProxyType

import msgspec

from .billing import Charge, Usage, price, speech_usage
from .catalog import Plan, Route, Target
from .errors import NotFound
from .providers import Adapter, AudioStream, TranscriptionCall, Upstream, build_adapter
from .routing import Attempt, Breakers, serve_first
from .speech import SpeechRequest, speech_call_for
from .audio.transcript import Transcript

__all__ = ["Gateway", "SpeechOutcome", "TranscriptionOutcome"]


class SpeechOutcome(msgspec.Struct, frozen=True):
    stream: AudioStream
    target: Target
    attempts: tuple[Attempt, ...]
    request: SpeechRequest

    def charge(self) -> Charge:
        """Priced on the model that served; output tokens count once the stream reported them."""
        output_tokens = int((self.stream.usage or {}).get("output_tokens") or 0)
        components = self.target.model.billing
        return price(components, speech_usage(self.request.input, components, output_tokens=output_tokens))


class TranscriptionOutcome(msgspec.Struct, frozen=True):
    transcript: Transcript
    target: Target
    attempts: tuple[Attempt, ...]
    charge: Charge
    billed_seconds: int


class Gateway:
    def __init__(self, plan: Plan, adapters: Mapping[str, Adapter], *, deadline: float | None = None):
        self.plan = plan
        self.adapters = MappingProxyType(dict(adapters))
        self.breakers = Breakers(plan.providers.values())
        self.deadline = deadline  # seconds for a whole fallback chain (first byte for speech)
        # The largest upload any STT model accepts: the streaming reader's cap (each model's own is checked later).
        self.max_upload_bytes = max((m.capabilities.max_upload_bytes for m in plan.models if m.kind == "stt"),
                                    default=25 * 1024 * 1024)

    @classmethod
    @asynccontextmanager
    async def running(cls, plan: Plan, *, deadline: float | None = None) -> AsyncIterator["Gateway"]:
        upstreams = {name: Upstream(provider) for name, provider in plan.providers.items()}
        adapters = {name: build_adapter(upstream) for name, upstream in upstreams.items()}
        try:
            yield cls(plan, adapters, deadline=deadline)
        finally:
            for adapter in adapters.values():   # the local adapter's worker processes
                if (close := getattr(adapter, "aclose", None)) is not None:
                    await close()
            for upstream in upstreams.values():
                await upstream.aclose()

    def route(self, model: str) -> Route:
        route = self.plan.resolve(model)
        if route is None:
            raise NotFound(f"The model `{model}` does not exist. GET /v1/models lists the available models.",
                           param="model", code="model_not_found")
        return route

    async def speech(self, request: SpeechRequest, route: Route) -> SpeechOutcome:
        """Open the first target's audio stream that yields a first byte (validation is the caller's)."""

        async def attempt(target: Target) -> AudioStream:
            return await self.adapters[target.provider.name].speech(speech_call_for(request, target))

        served = await serve_first(route.targets, attempt, breakers=self.breakers, deadline=self.deadline)
        return SpeechOutcome(stream=served.value, target=served.target, attempts=served.attempts, request=request)

    async def transcribe(self, route: Route, prepare: Callable[[Target], TranscriptionCall],
                         duration: float) -> TranscriptionOutcome:
        """`prepare(target)` re-maps the call per target (raising `Unsuitable` to skip it).

        Billed on the probed `duration`, whichever provider served (SenseVoice reports none).
        """

        async def attempt(target: Target) -> Transcript:
            return await self.adapters[target.provider.name].transcribe(prepare(target))

        served = await serve_first(route.targets, attempt, breakers=self.breakers, deadline=self.deadline)
        charge = price(served.target.model.billing, Usage(seconds=Decimal(str(duration))))
        seconds_line = next((line for line in charge.lines if line.unit == "second"), None)
        billed_seconds = int(seconds_line.quantity) if seconds_line else math.ceil(duration)
        return TranscriptionOutcome(transcript=served.value, target=served.target, attempts=served.attempts,
                                    charge=charge, billed_seconds=billed_seconds)
