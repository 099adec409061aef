"""Recent time to first byte per provider, for the `fastest` routing policy.

One `LatencyStats` per `Gateway` (per process, like the circuit breakers): no module-level state.
Speech records the time to the first audio chunk, transcription the time to the transcript. Each
(provider, kind) keeps an exponentially weighted average; a series whose last sample is older than
`stale_after` seconds starts over, so an average a policy trusts is always recent — a provider that
was slow an hour ago is measured again instead of being avoided forever. The clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from ..billing.units import ModelKind

__all__ = ["LatencyStats", "LatencyView"]


class LatencyView(msgspec.Struct, frozen=True):
    """What the router sees of one provider: the smoothed milliseconds and how many samples made them."""

    ewma_ms: float
    samples: int


@dataclass(slots=True)
class _Series:
    ewma_ms: float
    samples: int
    last_at: float


class LatencyStats:
    """Not thread-safe by design: it lives on one event loop, beside the breakers."""

    def __init__(self, *, smoothing: float = 0.3, stale_after: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        if not 0 < smoothing <= 1:
            raise ValueError("smoothing must be in (0, 1]")
        self._smoothing = smoothing
        self._stale_after = stale_after
        self._clock = clock
        self._series: dict[tuple[str, ModelKind], _Series] = {}

    def observe(self, provider: str, kind: ModelKind, seconds: float) -> None:
        now = self._clock()
        ms = max(0.0, seconds * 1000)
        series = self._series.get((provider, kind))
        if series is None or now - series.last_at > self._stale_after:
            self._series[(provider, kind)] = _Series(ewma_ms=ms, samples=1, last_at=now)
            return
        series.ewma_ms += self._smoothing * (ms - series.ewma_ms)
        series.samples += 1
        series.last_at = now

    def view(self, provider: str, kind: ModelKind) -> LatencyView | None:
        """None when the provider has no recent samples for this kind."""
        series = self._series.get((provider, kind))
        if series is None or self._clock() - series.last_at > self._stale_after:
            return None
        return LatencyView(ewma_ms=series.ewma_ms, samples=series.samples)

    def views(self, kind: ModelKind) -> dict[str, LatencyView]:
        """Every provider with recent samples for `kind`: the snapshot a routing decision reads."""
        return {provider: view for (provider, k) in list(self._series)
                if k == kind and (view := self.view(provider, k)) is not None}
