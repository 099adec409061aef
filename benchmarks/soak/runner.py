"""One soak run, start to verdict: warm up, measure, load with chaos, drain jobs, measure again.

The baseline and the final RSS/fd readings are both taken with the gateway idle and every client
connection closed, so they compare like with like; the peak is sampled during the load.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Iterator

import msgspec

from .chaos import FaultInjector, WorkerEvent, kill_worker, terminate_worker
from .config import SoakConfig
from .drain import JobSummary, drain_jobs, running_jobs
from .mix import Call, plan
from .procstat import ProcSample, sample
from .report import Report, build_report, scan_logs
from .send import Sender
from .stack import PROVIDER_KEYS, SERVER_SECRET, Stack, open_stack
from .tally import Tally

__all__ = ["run_soak"]

_TICK = 0.25
_REFRESH_EVERY = 2.0
_KILL_WAIT = 3.0
"""How long a SIGKILL waits for some job to be in progress, so the crash is likely to interrupt one."""


class _Progress:
    """Load-phase progress in 0..1: by requests sent or by time, whichever is further along."""

    def __init__(self, requests: int, duration: float) -> None:
        self._requests = max(1, requests)
        self._duration = duration
        self._started = time.monotonic()
        self.sent = 0
        self.done = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    @property
    def value(self) -> float:
        return max(self.sent / self._requests, self.elapsed / self._duration)


class _Peak:
    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.rss_kib = 0
        self.fds = 0

    def update(self) -> None:
        now = sample(self._pid)
        if now is not None:
            self.rss_kib, self.fds = max(self.rss_kib, now.rss_kib), max(self.fds, now.fds)

    def value(self) -> ProcSample:
        return ProcSample(rss_kib=self.rss_kib, fds=self.fds)


_GONE = ProcSample(rss_kib=0, fds=-1)
"""The reading of a gateway process that no longer exists (the report fails the run on it)."""


async def _settled(pid: int, timeout: float = 8.0) -> ProcSample:
    """The gateway's reading once its descriptor count has stopped moving (closed sockets take a moment)."""
    deadline = time.monotonic() + timeout
    readings: list[ProcSample] = []
    while time.monotonic() < deadline:
        now = sample(pid)
        if now is None:
            return _GONE
        readings.append(now)
        if len(readings) >= 5 and len({r.fds for r in readings[-5:]}) == 1:
            break
        await asyncio.sleep(0.2)
    return readings[-1]


class _Pacer:
    """Spaces request starts ``1/rate`` seconds apart across all lanes (rate 0: no spacing)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1 / rate if rate > 0 else 0.0
        self._next = time.monotonic()

    async def wait(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        slot, self._next = max(now, self._next), max(now, self._next) + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def _drive(sender: Sender, calls: Iterator[Call], tally: Tally, concurrency: int, rate: float,
                 on_send: Callable[[], None], deadline: float | None) -> None:
    """``concurrency`` lanes pull from one shared iterator until it is empty or the deadline passes."""
    pacer = _Pacer(rate)

    async def lane() -> None:
        for call in calls:
            await pacer.wait()
            if deadline is not None and time.monotonic() > deadline:
                return
            on_send()
            tally.add(await sender.send(call))

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def _disrupt(config: SoakConfig, stack: Stack, sender: Sender, injector: FaultInjector, progress: _Progress,
                   peak: _Peak, events: list[WorkerEvent]) -> None:
    """The chaos clock: refresh fault boards, sample the gateway, kill then stop a worker on schedule."""
    last_refresh = time.monotonic()
    kill_done = False
    terminating: asyncio.Task[WorkerEvent] | None = None
    while not progress.done or not (kill_done and terminating):
        peak.update()
        if time.monotonic() - last_refresh >= _REFRESH_EVERY:
            injector.refresh()
            last_refresh = time.monotonic()
        if not kill_done and (progress.value >= config.kill_at or progress.done):
            in_progress = await _wait_for_a_running_job(sender)
            events.append(await kill_worker(stack.workers, progress.elapsed, in_progress))
            kill_done = True
        elif kill_done and terminating is None and (progress.value >= config.term_at or progress.done):
            in_progress = await running_jobs(sender.http)
            terminating = asyncio.create_task(terminate_worker(stack.workers, progress.elapsed, in_progress))
        await asyncio.sleep(_TICK)
    if terminating is not None:
        events.append(await terminating)


async def _wait_for_a_running_job(sender: Sender) -> list[str] | None:
    deadline = time.monotonic() + _KILL_WAIT
    running = await running_jobs(sender.http)
    while not running and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        running = await running_jobs(sender.http)
    return running


class _Run(msgspec.Struct, kw_only=True):
    tally: Tally
    injector: FaultInjector
    events: list[WorkerEvent]
    jobs: JobSummary
    start: ProcSample
    end: ProcSample
    peak: ProcSample
    load_seconds: float


async def _run(config: SoakConfig, stack: Stack, say: Callable[[str], None]) -> _Run:
    url, pid = stack.gateway.url, stack.gateway.pid
    tally = Tally()
    injector = FaultInjector(random.Random(config.seed + 1), stack.fakes, config.fault_rate)
    injector.tune()
    calls = plan(random.Random(config.seed), config.warmup + config.requests)

    say(f"warm-up: {config.warmup} requests, no faults")
    async with Sender(url, config.concurrency) as sender:
        await _drive(sender, itertools.islice(calls, config.warmup), tally, config.concurrency, 0, lambda: None,
                     None)
        latest_job = sender.latest_job
    start = await _settled(pid)
    say(f"baseline: gateway RSS {start.rss_kib // 1024} MiB, {start.fds} fds")

    say(f"load: {config.requests} requests or {config.duration:g}s, at most {config.rate:g}/s, concurrency "
        f"{config.concurrency}, fault rate {config.fault_rate:g}")
    peak = _Peak(pid)
    events: list[WorkerEvent] = []
    progress = _Progress(config.requests, config.duration)

    def on_send() -> None:
        progress.sent += 1
        injector.on_send()

    async with Sender(url, config.concurrency) as sender:
        sender.latest_job = latest_job
        injector.enabled = True
        chaos = asyncio.create_task(_disrupt(config, stack, sender, injector, progress, peak, events))
        try:
            await _drive(sender, calls, tally, config.concurrency, config.rate, on_send,
                         time.monotonic() + config.duration)
        finally:
            load_seconds = progress.elapsed
            progress.done = True
            injector.enabled = False
            await chaos
        injector.refresh()
        say(f"load done in {load_seconds:.1f}s; draining {len(tally.jobs)} jobs (at most {config.job_drain_timeout:g}s)")
        interrupted = frozenset(job for event in events for job in event.jobs_in_progress or ())
        jobs = await drain_jobs(sender.http, tally.jobs, config.job_drain_timeout, interrupted)
    end = await _settled(pid)
    return _Run(tally=tally, injector=injector, events=events, jobs=jobs, start=start, end=end, peak=peak.value(),
                load_seconds=load_seconds)


def run_soak(config: SoakConfig, say: Callable[[str], None] = print) -> Report:
    """Start the stack, run the soak, stop everything; the report says whether every invariant held."""
    started = time.monotonic()
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.log"):  # process logs are appended to: start each run with empty ones
        stale.unlink()
    say(f"starting fakes, redis, moto S3, the gateway and 2 workers (logs in {out})")
    with open_stack(config, out) as stack:
        run = asyncio.run(_run(config, stack, say))
        exit_code, exit_seconds = stack.stop_gateway()
    logs = scan_logs(stack.gateway.log_path, stack.workers.log_paths, (*PROVIDER_KEYS.values(), SERVER_SECRET))
    report = build_report(
        config=msgspec.to_builtins(config, enc_hook=str), tally=run.tally, planned=config.warmup + config.requests,
        warmup=config.warmup, load_seconds=run.load_seconds, wall_seconds=time.monotonic() - started,
        faults=dict(run.injector.injected), mid_stream=run.injector.mid_stream, jobs=run.jobs, workers=run.events,
        pid=stack.gateway.pid, start=run.start, end=run.end, peak=run.peak, exit_code=exit_code,
        exit_seconds=exit_seconds, logs=logs, fd_slack=config.fd_slack, rss_growth_mib=config.rss_growth_mib)
    (out / "report.json").write_bytes(msgspec.json.format(msgspec.json.encode(report)))
    return report
