"""Prometheus metrics: what the gateway served and billed, and how its providers behave.

Every label value is a catalog id or a fixed word (an endpoint, a ledger status, an attempt outcome, a
billing unit), never something a client typed: a request for a model the catalog lacks is refused
before anything is counted, so the number of series is bounded by the catalog.

Most figures come from the ledger row a request or job ends as (`observe_row`), so a counter and the
books cannot disagree about what was served; attempts and fallbacks come from routing as they happen
(`begin`, an `AttemptObserver`). Money is counted as a float here (Prometheus has no other number);
the ledger keeps the exact Decimal.

One `Metrics` per process, each with its own registry, except under `serve --workers N`: there
prometheus-client's multiprocess mode is on (see `multiprocess.py`), each worker writes its values to
files in one directory and a scrape, answered by any worker, merges them. Gauges say how to merge:
in-flight requests add up over live workers (`livesum`); a circuit's state and the catalog versions
served are the highest any live worker reports (`livemax`: one worker with an open circuit shows it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from ..catalog import Plan, Target
from ..ledger import LedgerRow
from ..routing import Attempt, AttemptEnd, BreakerView, Outcome

__all__ = ["Metrics", "CIRCUIT_STATES", "DURATION_BUCKETS", "TTFB_BUCKETS", "JOB_STATUSES", "jobs_family"]

CIRCUIT_STATES: Mapping[str, int] = {"closed": 0, "half_open": 1, "open": 2}
# Seconds: speech streams and uploads take up to a minute, jobs up to the 30 min job timeout.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0)
TTFB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_STATUSES = ("queued", "in_progress")
NONE = "none"        # the provider label of a request no target served
UNKNOWN = "unknown"  # a row that names no catalog model (cannot happen for a routed request; kept bounded)


def jobs_family(counts: Mapping[str, int]) -> GaugeMetricFamily:
    """`audio_gateway_jobs{status}`: jobs waiting (queued, or waiting for a retry) and running, from the queue
    itself at scrape time; the same figure whichever process is scraped."""
    family = GaugeMetricFamily("audio_gateway_jobs", "Jobs in the queue by status (queued, in_progress).",
                               labels=["status"])
    for status in JOB_STATUSES:
        family.add_metric([status], counts.get(status, 0))
    return family


class _Families:
    """Families read at scrape time, as a collector."""

    def __init__(self, families: Iterable[Metric]):
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


class _Labelled:
    """A labelled metric whose children are kept by label values: `labels()` takes a lock and rebuilds its
    strings on every call, this is one dict look-up (label values are few: catalog ids, fixed words)."""

    __slots__ = ("metric", "_children")

    def __init__(self, metric: Any):
        self.metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *labels: str) -> Any:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self.metric.labels(*labels)
        return child


class Metrics:
    def __init__(self, *, multiprocess: bool = False):
        self.multiprocess = multiprocess
        # Multiprocess mode: the metrics belong to no registry; a scrape reads every worker's files.
        self.registry = None if multiprocess else CollectorRegistry()
        registry = self.registry
        self.requests = _Labelled(Counter(
            "audio_gateway_requests", "Requests and jobs that reached routing, by the ledger status they ended with.",
            ["endpoint", "model", "provider", "status"], registry=registry))
        self.duration = _Labelled(Histogram(
            "audio_gateway_request_duration_seconds", "Arrival to last byte (a job: submission to its end).",
            ["endpoint", "model"], buckets=DURATION_BUCKETS, registry=registry))
        self.ttfb = _Labelled(Histogram(
            "audio_gateway_time_to_first_byte_seconds", "Arrival to the first byte of a served response.",
            ["endpoint", "model"], buckets=TTFB_BUCKETS, registry=registry))
        self.attempts = _Labelled(Counter(
            "audio_gateway_upstream_attempts", "Targets tried or skipped by routing, by what became of them.",
            ["provider", "outcome"], registry=registry))
        self.fallbacks = _Labelled(Counter(
            "audio_gateway_fallbacks", "Routings served by a target other than the model asked for.",
            ["from_model", "to_model"], registry=registry))
        self.cost = _Labelled(Counter(
            "audio_gateway_cost_usd", "US dollars billed (the ledger has the exact figures).",
            ["model", "provider"], registry=registry))
        self.billed = _Labelled(Counter(
            "audio_gateway_billed_units", "Billing units charged, by the model that served them.",
            ["model", "unit"], registry=registry))
        self.circuits = _Labelled(Gauge(
            "audio_gateway_circuit_state", "Circuit breaker per provider: 0 closed, 1 half-open, 2 open.",
            ["provider"], registry=registry, multiprocess_mode="livemax"))
        self.inflight = Gauge(
            "audio_gateway_inflight_requests", "API requests being served (streams until their last byte).",
            registry=registry, multiprocess_mode="livesum")
        # Label values are key names: operators make them, a client cannot (bounded by the keys table).
        self.budget_warnings = _Labelled(Counter(
            "audio_gateway_budget_warnings", "Keys whose spend reached 80 % of their budget (once per key and period).",
            ["key", "period"], registry=registry))
        self.catalog = _Labelled(Gauge(
            "audio_gateway_catalog_info", "1 for the catalog version being served (content hash), 0 for earlier ones.",
            ["version"], registry=registry, multiprocess_mode="livemax"))

    # -- routing (an AttemptObserver) ------------------------------------------------------------------

    def begin(self, target: Target, primary: Target) -> AttemptEnd:
        def end(attempt: Attempt | None) -> None:
            outcome = "cancelled" if attempt is None else str(attempt.outcome)
            self.attempts(target.provider.name, outcome).inc()
            if attempt is not None and attempt.outcome == Outcome.OK and target.model.id != primary.model.id:
                self.fallbacks(primary.model.id, target.model.id).inc()
        return end

    # -- what the ledger recorded ----------------------------------------------------------------------

    def observe_row(self, row: LedgerRow, plan: Plan | None = None) -> None:
        """One finished request or job. `plan` names the provider of a job line served by another model."""
        model = row.model_served or (row.attempt_outcomes[0].model if row.attempt_outcomes else UNKNOWN)
        provider = (row.provider or NONE) if row.model_served else NONE   # who served; nobody, if it failed
        self.requests(row.endpoint, model, provider, row.status).inc()
        self.duration(row.endpoint, model).observe(row.latency_ms / 1000)
        if row.ttfb_ms is not None:
            self.ttfb(row.endpoint, model).observe(row.ttfb_ms / 1000)
        if not row.lines:
            return
        usd: float | None = None                     # the served model's; a job's other models' apart
        others: dict[str, float] = {}
        for line in row.lines:
            line_model = line.model or model
            self.billed(line_model, line.unit).inc(float(line.quantity))
            if line_model == model:
                usd = (usd or 0.0) + float(line.cost_usd)
            else:
                others[line_model] = others.get(line_model, 0.0) + float(line.cost_usd)
        if usd is not None:
            self.cost(model, provider).inc(usd)
        for line_model, other in others.items():
            self.cost(line_model, _provider_of(line_model, plan)).inc(other)

    # -- state ------------------------------------------------------------------------------------------

    def circuit_states(self, views: Mapping[str, BreakerView]) -> None:
        for provider, view in views.items():
            self.circuits(provider).set(CIRCUIT_STATES[view.state])

    def catalog_served(self, version: str, previous: str | None) -> None:
        if previous is not None and previous != version:
            self.catalog(previous).set(0)
        self.catalog(version).set(1)

    # -- exposition -------------------------------------------------------------------------------------

    def render(self, extra: Iterable[Metric] = ()) -> bytes:
        """The text exposition format; `extra` families are read at scrape time (job counts)."""
        scrape = CollectorRegistry()
        scrape.register(_Families(extra))
        if self.multiprocess:
            MultiProcessCollector(scrape)      # every worker's files, live and dead (counters never go back)
            return generate_latest(scrape)
        assert self.registry is not None
        return generate_latest(self.registry) + generate_latest(scrape)


def _provider_of(model: str, plan: Plan | None) -> str:
    route = plan.routes.get(model) if plan is not None else None
    return route.model.provider if route is not None else UNKNOWN
