"""Long-response and large-upload measurements: time to first byte, memory under many streams, 25 MB.

A raw asyncio client keeps the measurement free of client-library overhead: one request per fresh
connection (`Connection: close`, connected before the clock starts), time from the first byte sent
to the first response-body byte, then to end of stream. Memory is sampled from /proc while requests
run: for one process as RSS, plus VmHWM (the kernel's own peak) where it can be reset; for a tree
of several (`serve --workers N`: forked workers sharing pages copy-on-write) as the sum of PSS,
since summing RSS would count every shared page once per worker.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Sequence

import msgspec

from .procs import reset_peak, tree_memory_kb, tree_pss_kb

__all__ = ["Exchange", "MemoryPeak", "exchange", "median_ttfb_ms", "under_memory_watch"]


class Exchange(msgspec.Struct, frozen=True):
    status: int
    ttfb_s: float
    total_s: float
    received: int  # bytes after the response head (chunk framing included)


class MemoryPeak(msgspec.Struct, frozen=True):
    before_mb: float
    peak_mb: float
    kind: str = "RSS"  # "PSS" (summed) for a gateway of several processes

    @property
    def added_mb(self) -> float:
        return round(self.peak_mb - self.before_mb, 1)


async def exchange(port: int, path: str, headers: dict[str, str], body: bytes) -> Exchange:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    try:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
                   f"Connection: close\r\n{head}\r\n").encode()
        started = time.perf_counter()
        writer.write(request)
        writer.write(body)
        await writer.drain()
        status = int((await reader.readuntil(b"\r\n\r\n")).split(b" ", 2)[1])
        received = len(await reader.read(1))
        ttfb = time.perf_counter() - started
        while chunk := await reader.read(1 << 20):
            received += len(chunk)
        return Exchange(status, ttfb, time.perf_counter() - started, received)
    finally:
        writer.close()


async def median_ttfb_ms(port: int, path: str, headers: dict[str, str], body: bytes, *, runs: int) -> float:
    """Median TTFB of `runs` sequential requests (each stream read to the end before the next)."""
    samples = []
    for _ in range(runs):
        result = await exchange(port, path, headers, body)
        if result.status != 200:
            raise RuntimeError(f"POST {path} answered {result.status}")
        samples.append(result.ttfb_s)
    return round(statistics.median(samples) * 1000, 2)


async def under_memory_watch(pids: Sequence[int], work: Callable[[], asyncio.Future],
                             every: float = 0.01) -> tuple[object, MemoryPeak]:
    """Run `work()` while sampling the process tree's memory; returns its result and the before/peak figures.

    One process: RSS, and the peak is max(samples, VmHWM when resettable). Several: summed PSS, sampled
    only (the kernel keeps no peak PSS), at most every 50 ms (reading it costs about 2 ms a process)."""
    shared = len(pids) > 1
    measure = tree_pss_kb if shared else tree_memory_kb
    every = max(every, 0.05) if shared else every
    before = measure(pids)
    peak_resettable = not shared and reset_peak(pids)
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            # smaps_rollup is read off the loop, so the streams being measured are not held up by it
            peak = max(peak, await asyncio.to_thread(measure, pids) if shared else measure(pids))
            await asyncio.sleep(every)

    sampler = asyncio.create_task(sample())
    try:
        result = await work()
    finally:
        done.set()
        await sampler
    if peak_resettable:
        peak = max(peak, tree_memory_kb(pids, "VmHWM:"))
    return result, MemoryPeak(round(before / 1024, 1), round(peak / 1024, 1), "PSS" if shared else "RSS")
