"""Trouble on purpose: seeded provider faults, and workers killed or stopped while jobs run.

Faults go into the fakes' own fault boards (tests/fakes/faults.py), one per injection, for the next
matching upstream request — so what a fault hits depends on timing, but which faults are drawn, and in what
order, depends only on the seed. Every couple of seconds the boards are cleared and hung requests released
(``refresh``), so unconsumed faults cannot pile up and no fake connection stays hung for the whole run.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from collections import Counter

import msgspec
from tests.fakes import FakeProvider, Fault

from .stack import Workers

__all__ = ["FaultInjector", "WorkerEvent", "kill_worker", "terminate_worker", "MID_STREAM"]

_FAULTS: tuple[tuple[Fault, float], ...] = (
    (Fault.HTTP_429, 3), (Fault.HTTP_500, 3), (Fault.HTTP_502, 2), (Fault.HTTP_503, 3), (Fault.HTTP_504, 1),
    (Fault.HANG, 2), (Fault.RESET, 2), (Fault.RESET_MID_STREAM, 2), (Fault.STALL_MID_STREAM, 1),
    (Fault.MALFORMED, 2), (Fault.HTTP_401, 1), (Fault.HTTP_403, 0.5), (Fault.HTTP_404, 0.5),
    (Fault.HTTP_400, 0.3), (Fault.HTTP_413, 0.2),
)
MID_STREAM = frozenset({Fault.RESET_MID_STREAM, Fault.STALL_MID_STREAM})
_PATHS = {"FakeOpenAI": (None, "/v1/audio/speech", "/v1/audio/transcriptions", "/v1/audio/translations"),
          "FakeSiliconFlow": (None, "/v1/audio/speech", "/v1/audio/transcriptions")}
_BURST = 8
"""A flapping provider: this many 503s in a row on one fake, enough to open a circuit breaker."""


class FaultInjector:
    def __init__(self, rng: random.Random, fakes: tuple[FakeProvider, ...], rate: float) -> None:
        self._rng = rng
        self._fakes = fakes
        self._rate = rate
        self.enabled = False
        self.injected: Counter[str] = Counter()

    def tune(self) -> None:
        """Small chunks with a little pacing: streams last long enough for mid-stream faults to bite."""
        for fake in self._fakes:
            fake.chunk_size = 4096
            fake.chunk_delay = 0.01

    def on_send(self) -> None:
        """Called once per request sent: maybe inject one fault (rarely a burst) into a random fake."""
        if not self.enabled or self._rng.random() >= self._rate:
            return
        fake = self._rng.choice(self._fakes)
        if self._rng.random() < 0.02:
            fake.inject(Fault.HTTP_503, times=_BURST)
            self.injected["burst_503"] += 1
            return
        fault = self._rng.choices([f for f, _ in _FAULTS], [w for _, w in _FAULTS])[0]
        fake.inject(fault, times=1, path=self._rng.choice(_PATHS[type(fake).__name__]))
        self.injected[fault.value] += 1

    def refresh(self) -> None:
        """Drop faults nobody took and release hung/stalled requests (the gateway gave up on them already)."""
        for fake in self._fakes:
            fake.reset()
        self.tune()

    @property
    def mid_stream(self) -> int:
        return sum(self.injected[f.value] for f in MID_STREAM)


class WorkerEvent(msgspec.Struct, frozen=True, kw_only=True):
    action: str
    """sigkill or sigterm."""
    at_seconds: float
    pid: int
    replacement_pid: int
    jobs_in_progress: list[str] | None = None
    """Jobs the gateway reported in progress just before the signal (on any worker)."""
    exit_code: int | None = None
    exit_seconds: float | None = None
    """How long the worker took to exit after SIGTERM (it finishes or re-queues what it holds)."""


async def kill_worker(workers: Workers, at: float, in_progress: list[str] | None) -> WorkerEvent:
    """SIGKILL the oldest worker (no clean-up at all) and start a replacement at once."""
    victim = workers.live[0]
    await asyncio.to_thread(victim.kill)
    workers.retire(victim)
    replacement = workers.spawn()
    return WorkerEvent(action="sigkill", at_seconds=round(at, 2), pid=victim.process.pid,
                       replacement_pid=replacement.process.pid, jobs_in_progress=in_progress,
                       exit_code=victim.process.returncode)


async def terminate_worker(workers: Workers, at: float, in_progress: list[str] | None,
                           grace: float = 30.0) -> WorkerEvent:
    """SIGTERM the oldest worker, start its replacement at once (a rolling restart), wait for it to exit."""
    victim = workers.live[0]
    started = time.monotonic()
    victim.process.terminate()
    replacement = workers.spawn()
    try:
        await asyncio.to_thread(victim.process.wait, grace)
    except subprocess.TimeoutExpired:
        pass
    seconds = time.monotonic() - started
    code = victim.process.returncode
    await asyncio.to_thread(victim.stop)  # SIGKILLs it only if it ignored SIGTERM for `grace` seconds
    workers.retire(victim)
    return WorkerEvent(action="sigterm", at_seconds=round(at, 2), pid=victim.process.pid,
                       replacement_pid=replacement.process.pid, jobs_in_progress=in_progress, exit_code=code,
                       exit_seconds=round(seconds, 2))
