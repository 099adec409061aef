"""A bounded pool of worker processes, each with its engine loaded once, started when first needed.

`size` slots; a slot holds a live idle worker, or nothing yet (the process starts on first use). Warm
workers are handed out first, so only as many processes start as requests ever ran at once. A
request leases a slot for the whole job; a lease that ends without its job finishing (the client went
away, a deadline, an error) kills its worker, so the slot is free at once and no half-run job blocks the
next request — the replacement starts lazily. When no slot frees up within the caller's wait, `PoolBusy`.

Workers are asyncio subprocesses of the process that uses the pool, created inside its running event
loop: a pool object copied into a forked process (`serve --workers N`) starts afresh there instead of
sharing pipes with its parent. A worker exits by itself when its stdin closes, so none outlives the
gateway even when `aclose` is never reached.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

from .protocol import Job, Ready, Reply, decode_reply, encode_frame, frame_length

__all__ = ["WorkerPool", "Lease", "PoolBusy", "WorkerFailed"]


class PoolBusy(Exception):
    """Every slot was leased for as long as the caller would wait."""


class WorkerFailed(Exception):
    """A worker could not start its engine, or died during a job."""


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def send(self, job: Job) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(encode_frame(job))
            await stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise WorkerFailed(f"worker {self.process.pid} is gone ({type(exc).__name__})") from None

    async def receive(self) -> Reply:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            body = await stdout.readexactly(frame_length(await stdout.readexactly(4)))
            return decode_reply(body)
        except asyncio.IncompleteReadError:
            code = await self.process.wait()
            raise WorkerFailed(f"worker {self.process.pid} exited (status {code})") from None
        except ValueError as exc:   # an oversized or undecodable frame (msgspec.DecodeError is one)
            raise WorkerFailed(f"worker {self.process.pid} sent an unreadable reply ({exc})") from None

    async def stop(self) -> None:
        """Kill, then read stdout to its end: a paused pipe would otherwise keep the transport open."""
        if self.alive:
            self.process.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.stdout is not None:
            await self.process.stdout.read()
        await self.process.wait()


class Lease:
    """One slot for one job. `finished()` once the job's last reply arrived; `release()` always."""

    def __init__(self, pool: WorkerPool, worker: _Worker):
        self._pool = pool
        self._worker: _Worker | None = worker
        self._clean = False

    async def send(self, job: Job) -> None:
        self._clean = False
        await self._current().send(job)

    async def receive(self) -> Reply:
        return await self._current().receive()

    def finished(self) -> None:
        self._clean = True

    def _current(self) -> _Worker:
        if self._worker is None:
            raise WorkerFailed("the lease was released")
        return self._worker

    async def release(self) -> None:
        """Back to the pool if the job ended cleanly, else the worker is killed; idempotent.

        The slot is free when this returns; a killed worker is reaped in the background, so a release
        inside a cancelled request never waits on it.
        """
        worker, self._worker = self._worker, None
        if worker is not None:
            self._pool._give_back(worker, clean=self._clean and worker.alive)


class WorkerPool:
    def __init__(self, argv: Sequence[str], size: int, *, start_timeout: float = 60.0):
        self._argv = (sys.executable, "-m", "audio_gateway.providers.local.worker", *argv)
        self.size = size
        self._start_timeout = start_timeout
        self._owner: int | None = None
        self._slots: asyncio.Queue[_Worker | None] | None = None
        self._leased: set[_Worker] = set()
        self._reaping: set[asyncio.Task[None]] = set()

    def _queue(self) -> asyncio.Queue[_Worker | None]:
        """The slots of this process; a copy inherited through fork starts empty (workers are per process)."""
        if self._slots is None or self._owner != os.getpid():
            self._owner, self._leased, self._reaping = os.getpid(), set(), set()
            self._slots = asyncio.LifoQueue()   # a warm worker given back is the next one handed out
            for _ in range(self.size):
                self._slots.put_nowait(None)
        return self._slots

    @property
    def idle(self) -> int:
        """Slots free right now (started or not)."""
        return self._queue().qsize()

    async def lease(self, wait: float) -> Lease:
        """A slot within `wait` seconds (PoolBusy otherwise), its worker started if need be."""
        slots = self._queue()
        try:
            worker = slots.get_nowait()
        except asyncio.QueueEmpty:
            try:
                async with asyncio.timeout(wait):
                    worker = await slots.get()
            except TimeoutError:
                raise PoolBusy(f"all {self.size} workers are busy") from None
        try:
            if worker is None or not worker.alive:
                worker = await self._start()
        except BaseException:
            slots.put_nowait(None)
            raise
        self._leased.add(worker)
        return Lease(self, worker)

    async def _start(self) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            start_new_session=True,   # Ctrl-C in a terminal reaches the gateway, which then closes our stdin
        )
        worker = _Worker(process)
        try:
            async with asyncio.timeout(self._start_timeout):
                hello = await worker.receive()
        except TimeoutError:
            self._reap(worker)
            raise WorkerFailed(f"worker did not load its engine within {self._start_timeout:g} s") from None
        except BaseException:
            self._reap(worker)
            raise
        if not isinstance(hello, Ready):
            self._reap(worker)
            raise WorkerFailed(getattr(hello, "message", f"unexpected first reply {type(hello).__name__}"))
        return worker

    def _reap(self, worker: _Worker) -> None:
        task = asyncio.get_running_loop().create_task(worker.stop())
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    def _give_back(self, worker: _Worker, *, clean: bool) -> None:
        self._leased.discard(worker)
        if not clean:
            self._reap(worker)
        if self._owner == os.getpid() and self._slots is not None:
            self._slots.put_nowait(worker if clean else None)

    async def aclose(self) -> None:
        """Stop every worker of this process (idle and leased)."""
        if self._slots is None or self._owner != os.getpid():
            return
        workers = list(self._leased)
        while not self._slots.empty():
            if (worker := self._slots.get_nowait()) is not None:
                workers.append(worker)
        for worker in workers:
            self._reap(worker)
        await asyncio.gather(*self._reaping, return_exceptions=True)
        self._slots = None
