"""One object per process that every observing place is handed: metrics, tracing, or neither.

`Telemetry` is made before a fork (metrics objects must exist before the workers, so that each writes
its own files) and started after it (`start()`: the span exporter's thread). It is the routing
`AttemptObserver` of every catalog generation, takes each ledger row (`observe_row`), follows catalog
swaps (`generation_changed`) and renders `/metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from ..catalog import Plan, Target
from ..gateway import Gateway
from ..ledger import LedgerRow
from ..routing import Attempt, AttemptEnd, AttemptObserver, BreakerView
from ..settings import Settings
from .metrics import Metrics, jobs_family
from .tracing import Tracing

__all__ = ["Telemetry", "JobCounts", "CIRCUIT_REFRESH_SECONDS", "queue_job_counts"]

log = logging.getLogger("audio_gateway")

JobCounts = Callable[[], Awaitable[dict[str, int]]]
# Open → half-open is a matter of time, not of an event: the circuit gauge is re-read this often.
CIRCUIT_REFRESH_SECONDS = 1.0


class Telemetry:
    def __init__(self, settings: Settings, *, multiprocess: bool = False, span_exporter: SpanExporter | None = None):
        self.metrics = Metrics(multiprocess=multiprocess) if settings.metrics_enabled else None
        self._tracing_settings = settings.tracing
        self._span_exporter = span_exporter        # tests: spans go here, one by one
        self.tracing: Tracing | None = None

    @property
    def tracing_wanted(self) -> bool:
        return self._tracing_settings.enabled or self._span_exporter is not None

    @property
    def active(self) -> bool:
        """Anything to do per request at all? (Nothing when metrics are off and tracing is not configured.)"""
        return self.metrics is not None or self.tracing_wanted

    # -- lifecycle ------------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self, circuits: Callable[[], dict[str, BreakerView]] | None = None) -> AsyncIterator[Telemetry]:
        """Start tracing in this process and keep the circuit gauge current; flush spans at exit."""
        if self.tracing_wanted and self.tracing is None:
            self.tracing = Tracing.start(self._tracing_settings, self._span_exporter)
        refresher = None
        if self.metrics is not None and circuits is not None:
            refresher = asyncio.create_task(self._refresh_circuits(circuits), name="circuit-gauge")
        try:
            yield self
        finally:
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            if self.tracing is not None:
                self.tracing.shutdown()
                self.tracing = None

    async def _refresh_circuits(self, circuits: Callable[[], dict[str, BreakerView]]) -> None:
        assert self.metrics is not None
        while True:
            self.metrics.circuit_states(circuits())
            await asyncio.sleep(CIRCUIT_REFRESH_SECONDS)

    # -- routing --------------------------------------------------------------------------------------

    def attempt_observer(self) -> AttemptObserver | None:
        """What each generation's routing reports to; None when there is nothing to observe."""
        return self if self.active else None

    def begin(self, target: Target, primary: Target) -> AttemptEnd:
        metrics_end = self.metrics.begin(target, primary) if self.metrics is not None else None
        tracing = self.tracing
        if tracing is None:
            return metrics_end or _ignore
        trace_end = tracing.begin(target, primary)
        if metrics_end is None:
            return trace_end

        def end(attempt: Attempt | None) -> None:
            trace_end(attempt)
            metrics_end(attempt)
        return end

    # -- rows, generations, scrapes ---------------------------------------------------------------------

    def observe_row(self, row: LedgerRow, plan: Plan | None = None) -> None:
        """A ledger row was recorded: count it, and put its facts on the current span."""
        if self.metrics is not None:
            self.metrics.observe_row(row, plan)
        if self.tracing is not None:
            self.tracing.annotate(row)

    def generation_changed(self, generation: Gateway, previous: Gateway | None) -> None:
        if self.metrics is not None:
            self.metrics.catalog_served(generation.version, previous.version if previous is not None else None)
            self.metrics.circuit_states(generation.breakers.views())

    @contextlib.contextmanager
    def job(self, job_id: str, kind: str, model: str, traceparent: str | None) -> Iterator[None]:
        if self.tracing is None:
            yield
            return
        with self.tracing.job(job_id, kind, model, traceparent):
            yield

    async def render_metrics(self, circuits: dict[str, BreakerView] | None = None,
                             job_counts: JobCounts | None = None) -> bytes:
        """The exposition text. This process's circuits are refreshed first; job counts are read from the
        queue now (left out, with a log line, when it does not answer within a second)."""
        assert self.metrics is not None
        if circuits is not None:
            self.metrics.circuit_states(circuits)
        extra = []
        if job_counts is not None:
            try:
                async with asyncio.timeout(1.0):
                    extra.append(jobs_family(await job_counts()))
            except Exception as exc:  # a scrape reports what it can; the queue's own health is /readyz's
                log.warning("metrics: job counts unavailable (%s: %s)", type(exc).__name__, exc)
        return self.metrics.render(extra)


def _ignore(attempt: Attempt | None) -> None:
    return None


def queue_job_counts(queue: Any) -> JobCounts:
    """Counts from SAQ's own bookkeeping (two Redis calls): `incomplete` holds every job not finished, the
    running ones (`active`) among them; the rest wait, for a worker or for a retry's backoff."""
    async def counts() -> dict[str, int]:
        incomplete = await queue.count("incomplete")
        active = await queue.count("active")
        return {"queued": max(0, incomplete - active), "in_progress": active}
    return counts
