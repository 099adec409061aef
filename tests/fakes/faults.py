"""Switchable failures shared by every fake provider.

Tests inject a fault from their own thread while the fake serves on its loop thread, so the registry is
lock-protected and the hang/stall gate is only ever touched on the loop (``release`` hops there).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Fault", "FaultBoard", "Gate"]


class Fault(StrEnum):
    """What the fake does to the next matching request instead of (or while) answering it."""

    HTTP_400 = "http_400"
    HTTP_401 = "http_401"
    HTTP_403 = "http_403"
    HTTP_404 = "http_404"
    HTTP_413 = "http_413"
    HTTP_429 = "http_429"
    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    HTTP_504 = "http_504"
    HANG = "hang"
    """Accept the request and answer nothing until release()/reset()/stop(); then answer normally."""
    RESET = "reset"
    """TCP RST before any response byte."""
    RESET_MID_STREAM = "reset_mid_stream"
    """Status, headers and the first body chunk, then TCP RST."""
    STALL_MID_STREAM = "stall_mid_stream"
    """Status, headers and the first body chunk, then nothing until released; then the rest."""
    MALFORMED = "malformed"
    """200 with Content-Type application/json and a body that is not valid JSON."""

    @property
    def status(self) -> int | None:
        """The HTTP status of an ``http_NNN`` fault, else None."""
        return int(self.value[5:]) if self.value.startswith("http_") else None


@dataclass(slots=True)
class _Rule:
    fault: Fault
    remaining: int | None  # None: until cleared
    path: str | None
    skip: int = 0          # matching requests let through untouched before the fault starts


class FaultBoard:
    """Injected faults in injection order; each request takes the first rule that matches its path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    def inject(self, fault: Fault | str, times: int | None = 1, path: str | None = None, after: int = 0) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None (persistent)")
        with self._lock:
            self._rules.append(_Rule(Fault(fault), times, path, after))

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.path is None or rule.path == path:
                    if rule.skip:
                        rule.skip -= 1
                        return None
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule.fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


class Gate:
    """Where hung and stalled requests wait. Loop-thread only: call ``ticket``/``open`` on the loop.

    A request takes its ticket as it arrives; ``open`` lets every ticket issued so far through and starts
    a fresh one, so a request arriving after a release hangs again.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ticket(self) -> asyncio.Event:
        return self._event

    def open(self) -> None:
        self._event.set()
        self._event = asyncio.Event()
