"""Per-provider circuit breakers: stop calling a provider that keeps failing, then probe it.

closed ──(N consecutive provider failures, or a 429 with Retry-After)──▶ open
open ──(cooldown elapsed; the next request is the one probe)──▶ half-open
half-open ──probe served──▶ closed        half-open ──probe failed──▶ open (again)

While a provider is open, routing skips it without a call, so fallback goes
straight to the next target instead of waiting on timeouts. The state lives in
one `Breakers` object per `Gateway` (per process): no module-level state, and the
clock is injected so the transitions are tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Literal

import msgspec

from ..catalog.model import BreakerSettings, Provider

__all__ = ["Breaker", "Breakers", "BreakerState", "BreakerView"]

BreakerState = Literal["closed", "open", "half_open"]
Clock = Callable[[], float]


class BreakerView(msgspec.Struct, frozen=True):
    """What `/readyz` shows for one provider."""

    state: BreakerState
    consecutive_failures: int
    retry_in_seconds: float | None = None
    last_failure: str | None = None


class Breaker:
    """One provider's breaker. Not thread-safe by design: it lives on one event loop."""

    def __init__(self, settings: BreakerSettings, clock: Clock = time.monotonic):
        self._settings = settings
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False
        self._last_failure: str | None = None

    @property
    def state(self) -> BreakerState:
        if self._open_until is None:
            return "closed"
        if self._probing or self._clock() >= self._open_until:
            return "half_open"
        return "open"

    def admit(self) -> bool:
        """May a request go to this provider now? In half-open only one probe at a time is let through."""
        if not self._settings.enabled:
            return True
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._probing:
            return False
        self._probing = True
        return True

    def retry_in(self) -> float:
        return 0.0 if self._open_until is None else max(0.0, self._open_until - self._clock())

    def succeeded(self) -> None:
        """The provider answered (even a refusal of the caller's input proves it is up)."""
        self._failures = 0
        self._open_until = None
        self._probing = False

    def failed(self, reason: str, retry_after: float | None = None) -> None:
        """A provider fault; a Retry-After opens the breaker for exactly that long."""
        if not self._settings.enabled:
            return
        self._failures += 1
        self._last_failure = reason
        self._probing = False
        if retry_after is not None and retry_after > 0:
            self._open_until = max(self._open_until or 0.0, self._clock() + retry_after)
        elif self._open_until is not None or self._failures >= self._settings.failure_threshold:
            self._open_until = self._clock() + self._settings.cooldown_seconds

    def released(self) -> None:
        """An admitted call ended with no verdict (the client went away): free the probe slot."""
        self._probing = False

    def view(self) -> BreakerView:
        state = self.state
        return BreakerView(state=state, consecutive_failures=self._failures,
                           retry_in_seconds=round(self.retry_in(), 3) if state == "open" else None,
                           last_failure=self._last_failure)


class Breakers:
    """The breakers of every provider in the plan, by provider name."""

    def __init__(self, providers: Iterable[Provider], clock: Clock = time.monotonic):
        self._by_name: Mapping[str, Breaker] = MappingProxyType(
            {p.name: Breaker(p.circuit_breaker, clock) for p in providers})

    @classmethod
    def of(cls, by_name: Mapping[str, Breaker]) -> Breakers:
        """Breakers made earlier, kept by a catalog reload for providers whose settings did not change."""
        breakers = cls(())
        breakers._by_name = MappingProxyType(dict(by_name))
        return breakers

    def __getitem__(self, provider: str) -> Breaker:
        return self._by_name[provider]

    def views(self) -> dict[str, BreakerView]:
        return {name: breaker.view() for name, breaker in self._by_name.items()}
