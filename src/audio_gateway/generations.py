"""The catalog generation being served, swapped whole on reload; requests keep the one they started with.

A generation is a `Gateway`: one compiled plan with an adapter and a circuit breaker per provider.
`LiveGateway.swap(catalog)` builds the next one, reusing the adapter (so its connection pool) and the
breaker (so its state) of every provider whose settings did not change, and makes it current in one
assignment. Requests pin the generation current when they start (`pinned()`), so a request or a stream
in flight finishes on the plan and adapters it began with; what only superseded generations used is
closed once the last request pinned to them is over.

Everything runs on one event loop: the counts need no lock, and a swap is atomic for every request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime

from .catalog import LoadedCatalog, Plan, Provider, Route
from .gateway import Gateway
from .providers import Adapter, build_adapter, unavailable_reason
from .routing import AttemptObserver, Breaker, Breakers, BreakerView, LatencyStats

__all__ = ["LiveGateway", "GenerationListener", "AdapterBuilder"]

GenerationListener = Callable[[Gateway, Gateway | None], None]
"""Told `(new, previous)` each time a generation becomes current (previous is None for the first)."""
AdapterBuilder = Callable[[Provider], Adapter]


class LiveGateway:
    """Holds the current `Gateway`. Read-only look-ups (plan, route, breakers) go to the current one;
    serving goes through a pinned one, so that a reload never changes a request half-way."""

    def __init__(self, catalog: LoadedCatalog, *, deadline: float | None = None,
                 observer: AttemptObserver | None = None, listener: GenerationListener | None = None,
                 build: AdapterBuilder = build_adapter):
        self._first = catalog
        self._build_adapter = build
        self._deadline = deadline
        self._observer = observer
        self._listener = listener
        self._current: Gateway | None = None
        self._latency = LatencyStats()
        self._pins: dict[Gateway, int] = {}   # generations that requests in flight still use, and how many
        self._open: list[Gateway] = []        # every generation whose adapters may still be open

    # -- lifecycle ------------------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def running(cls, catalog: LoadedCatalog, *, deadline: float | None = None,
                      observer: AttemptObserver | None = None,
                      listener: GenerationListener | None = None) -> AsyncIterator[LiveGateway]:
        live = cls(catalog, deadline=deadline, observer=observer, listener=listener)
        async with live.serving():
            yield live

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[LiveGateway]:
        """Open the first generation's adapters (inside the event loop that will use them); close all at exit."""
        self._make_current(self._build(self._first, None))
        try:
            yield self
        finally:
            self._pins.clear()      # the server has drained: whatever is still pinned is being torn down
            await self._close_unused(keep=())

    # -- the current generation -----------------------------------------------------------------------

    @property
    def current(self) -> Gateway:
        if self._current is None:
            raise RuntimeError("the gateway is not serving yet (use `async with live.serving()`)")
        return self._current

    @property
    def plan(self) -> Plan:
        return self.current.plan

    @property
    def breakers(self) -> Breakers:
        return self.current.breakers

    @property
    def unavailable(self) -> Mapping[str, str]:
        return self.current.unavailable

    @property
    def max_upload_bytes(self) -> int:
        return self.current.max_upload_bytes

    @property
    def version(self) -> str:
        return self.current.version

    @property
    def loaded_at(self) -> datetime | None:
        return self.current.loaded_at

    def route(self, model: str) -> Route:
        return self.current.route(model)

    def circuit_views(self) -> dict[str, BreakerView]:
        return self.current.breakers.views()

    # -- pinning and swapping -------------------------------------------------------------------------

    @asynccontextmanager
    async def pinned(self) -> AsyncIterator[Gateway]:
        """The current generation, kept (adapters open) until the block ends, whatever reloads meanwhile."""
        generation = self.current
        self._pins[generation] = self._pins.get(generation, 0) + 1
        try:
            yield generation
        finally:
            left = self._pins[generation] - 1
            if left:
                self._pins[generation] = left
            else:
                del self._pins[generation]
                if generation is not self._current:
                    await self._close_unused(keep=(self.current,))

    async def swap(self, catalog: LoadedCatalog) -> Gateway:
        """Make `catalog` current; returns the new generation. Requests already pinned keep the old one."""
        previous = self.current
        generation = self._build(catalog, previous)
        self._make_current(generation)
        await self._close_unused(keep=(generation,))
        return generation

    def _make_current(self, generation: Gateway) -> None:
        previous, self._current = self._current, generation
        self._open.append(generation)
        if self._listener is not None:
            self._listener(generation, previous)

    def _build(self, catalog: LoadedCatalog, previous: Gateway | None) -> Gateway:
        plan = catalog.plan
        adapters: dict[str, Adapter] = {}
        breakers: dict[str, Breaker] = {}
        for name, provider in plan.providers.items():
            if previous is not None and previous.plan.providers.get(name) == provider:
                adapters[name] = previous.adapters[name]   # same settings: same pool, same breaker state
                breakers[name] = previous.breakers[name]
            else:
                adapters[name] = self._build_adapter(provider)
                breakers[name] = Breaker(provider.circuit_breaker)
        unavailable = {name: reason for name, provider in plan.providers.items()
                       if (reason := unavailable_reason(provider)) is not None}
        # One latency record for every generation: a reload does not make `fastest` forget what it saw.
        return Gateway(plan, adapters, deadline=self._deadline, unavailable=unavailable,
                       breakers=Breakers.of(breakers), observer=self._observer, version=catalog.version,
                       loaded_at=catalog.loaded_at, latency=self._latency)

    async def _close_unused(self, *, keep: tuple[Gateway, ...]) -> None:
        """Retire every generation that is neither in `keep` nor pinned: close the adapters none of those
        still uses (an adapter shared by several generations is closed once, with the last of them)."""
        live = {*keep, *self._pins}
        in_use = {id(adapter) for generation in live for adapter in generation.adapters.values()}
        closing: dict[int, Adapter] = {}
        for generation in [g for g in self._open if g not in live]:
            self._open.remove(generation)
            closing.update((id(a), a) for a in generation.adapters.values() if id(a) not in in_use)
        for adapter in closing.values():
            await _close(adapter)


async def _close(adapter: Adapter) -> None:
    close = getattr(adapter, "aclose", None)
    if close is not None:
        await close()
