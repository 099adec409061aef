"""The verdict of a run: numbers, the invariants they must meet, a text summary and a JSON file.

Every invariant is a plain comparison on the numbers in the report, so a reader of the JSON can re-check
the verdict by hand; ``failures`` says in a sentence which ones broke.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import msgspec

from .chaos import WorkerEvent
from .drain import JobSummary
from .procstat import ProcSample
from .tally import VIOLATIONS, Example, Tally

__all__ = ["GatewayReport", "LogReport", "Report", "RequestReport", "build_report", "render", "scan_logs"]

_MIB = 1024
_SHUTDOWN_GRACE = 30.0
"""An idle gateway must exit this soon after SIGTERM (uvicorn re-raises the signal, hence exit -15 is clean)."""


class RequestReport(msgspec.Struct, frozen=True, kw_only=True):
    planned: int
    warmup: int
    sent: int
    answered: int
    """A whole response (head and body) came back."""
    truncated_streams: int
    """A 200 head came back, then the stream broke: legitimate only after a provider died mid-stream."""
    per_second: float
    latency_p50: float
    latency_p95: float
    latency_p99: float
    latency_max: float
    by_status: dict[str, int]
    by_kind: dict[str, dict[str, int]]
    violations: dict[str, int]


class GatewayReport(msgspec.Struct, frozen=True, kw_only=True):
    pid: int
    rss_mib_start: float
    rss_mib_end: float
    rss_mib_peak: float
    rss_growth_mib: float
    fds_start: int
    fds_end: int
    fds_peak: int
    exit_code: int | None
    exit_seconds: float
    """Seconds from SIGTERM to exit at the end of the run."""


class LogReport(msgspec.Struct, frozen=True, kw_only=True):
    gateway_tracebacks: int
    worker_tracebacks: int
    secrets_in_logs: int
    files: list[str]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    failures: list[str]
    seed: int
    config: dict
    wall_seconds: float
    load_seconds: float
    requests: RequestReport
    faults_injected: dict[str, int]
    mid_stream_faults: int
    jobs: JobSummary
    workers: list[WorkerEvent]
    gateway: GatewayReport
    logs: LogReport
    examples: dict[str, list[Example]]


def scan_logs(gateway_log: Path, worker_logs: list[Path], secrets: tuple[str, ...]) -> LogReport:
    """Tracebacks are counted (context for the lead, not a verdict); a provider key in any log line fails."""

    def read(path: Path) -> str:
        return path.read_text("utf-8", "replace") if path.exists() else ""

    gateway = read(gateway_log)
    workers = [read(path) for path in worker_logs]
    leaked = sum(text.count(secret) for text in (gateway, *workers) for secret in secrets)
    return LogReport(gateway_tracebacks=gateway.count("Traceback"),
                     worker_tracebacks=sum(text.count("Traceback") for text in workers),
                     secrets_in_logs=leaked, files=[str(gateway_log), *map(str, worker_logs)])


def _gateway(pid: int, start: ProcSample, end: ProcSample, peak: ProcSample, exit_code: int | None,
             exit_seconds: float) -> GatewayReport:
    return GatewayReport(pid=pid, rss_mib_start=round(start.rss_kib / _MIB, 1), rss_mib_end=round(end.rss_kib / _MIB, 1),
                         rss_mib_peak=round(peak.rss_kib / _MIB, 1),
                         rss_growth_mib=round((end.rss_kib - start.rss_kib) / _MIB, 1), fds_start=start.fds,
                         fds_end=end.fds, fds_peak=peak.fds, exit_code=exit_code, exit_seconds=round(exit_seconds, 2))


def _failures(report: Report, fd_slack: int, rss_growth_mib: float, events_expected: int) -> list[str]:
    r, j, g = report.requests, report.jobs, report.gateway
    checks = [(r.violations[name] == 0, f"{r.violations[name]} {name.replace('_', ' ')}") for name in VIOLATIONS]
    checks += [
        (r.truncated_streams <= report.mid_stream_faults,
         f"{r.truncated_streams} truncated streams but only {report.mid_stream_faults} mid-stream faults injected"),
        (j.missing == 0, f"{j.missing} accepted jobs lost (404)"),
        (j.stuck == 0, f"{j.stuck} jobs never reached a terminal state"),
        (j.results_bad == 0, f"{j.results_bad} completed jobs whose result URL is wrong"),
        (g.fds_start >= 0 and g.fds_end >= 0, "the gateway process died during the run"),
        (g.fds_end <= g.fds_start + fd_slack, f"gateway fds grew {g.fds_start} -> {g.fds_end} (slack {fd_slack})"),
        (g.rss_growth_mib <= rss_growth_mib, f"gateway RSS grew {g.rss_growth_mib} MiB (bound {rss_growth_mib})"),
        (g.exit_code in (0, -signal.SIGTERM) and g.exit_seconds < _SHUTDOWN_GRACE,
         f"gateway exit {g.exit_code} {g.exit_seconds}s after SIGTERM (not a clean shutdown)"),
        (report.logs.secrets_in_logs == 0, f"{report.logs.secrets_in_logs} secrets (provider keys, server secret) in the logs"),
        (len(report.workers) == events_expected, f"{len(report.workers)} of {events_expected} worker disruptions ran"),
    ]
    return [message for passed, message in checks if not passed]


def build_report(*, config: dict, tally: Tally, planned: int, warmup: int, load_seconds: float, wall_seconds: float,
                 faults: dict[str, int], mid_stream: int, jobs: JobSummary, workers: list[WorkerEvent],
                 pid: int, start: ProcSample, end: ProcSample, peak: ProcSample, exit_code: int | None,
                 exit_seconds: float, logs: LogReport, fd_slack: int, rss_growth_mib: float) -> Report:
    requests = RequestReport(
        planned=planned, warmup=warmup, sent=tally.sent, answered=tally.answered, truncated_streams=tally.truncated,
        per_second=round((tally.sent - warmup) / load_seconds, 1) if load_seconds else 0.0,
        latency_p50=tally.percentile(0.5), latency_p95=tally.percentile(0.95), latency_p99=tally.percentile(0.99),
        latency_max=tally.percentile(1.0), by_status=dict(sorted(tally.by_status.items())),
        by_kind={kind: dict(sorted(c.items())) for kind, c in sorted(tally.by_kind.items())},
        violations=dict(tally.violations))
    draft = Report(ok=False, failures=[], seed=config["seed"], config=config, wall_seconds=round(wall_seconds, 1),
                   load_seconds=round(load_seconds, 1), requests=requests, faults_injected=dict(sorted(faults.items())),
                   mid_stream_faults=mid_stream, jobs=jobs, workers=workers,
                   gateway=_gateway(pid, start, end, peak, exit_code, exit_seconds), logs=logs,
                   examples={name: list(items) for name, items in tally.examples.items()})
    failures = _failures(draft, fd_slack, rss_growth_mib, events_expected=2)
    return msgspec.structs.replace(draft, ok=not failures, failures=failures)


def render(report: Report) -> str:
    """The summary a person reads at the end of `make soak`."""
    r, j, g = report.requests, report.jobs, report.gateway
    statuses = ", ".join(f"{status}: {n}" for status, n in r.by_status.items())
    faults = ", ".join(f"{name}: {n}" for name, n in report.faults_injected.items())
    lines = [
        f"soak (seed {report.seed}): {report.wall_seconds}s in all, load phase {report.load_seconds}s",
        f"requests  sent {r.sent} (warm-up {r.warmup}), answered {r.answered}, truncated streams "
        f"{r.truncated_streams}, {r.per_second}/s; latency p50 {r.latency_p50}s p95 {r.latency_p95}s "
        f"p99 {r.latency_p99}s max {r.latency_max}s",
        f"statuses  {statuses}",
        "invariants " + ", ".join(f"{name}: {n}" for name, n in r.violations.items()),
        f"faults    {sum(report.faults_injected.values())} injected ({faults})",
        f"jobs      accepted {j.accepted}: completed {j.completed}, failed {j.failed}, cancelled {j.cancelled}, "
        f"missing {j.missing}, stuck {j.stuck}; {j.results_checked} results fetched, {j.results_bad} bad; "
        f"drained in {j.drain_seconds}s; failure codes {j.failure_codes}",
        f"          jobs running at a worker kill/stop ended as: {dict(Counter(j.interrupted.values()))}; "
        f"slowest: {', '.join(j.slowest)}",
    ]
    for event in report.workers:
        running = "?" if event.jobs_in_progress is None else len(event.jobs_in_progress)
        lines.append(f"worker    {event.action} pid {event.pid} at {event.at_seconds}s with {running} "
                     f"jobs in progress; exit {event.exit_code}"
                     + (f" after {event.exit_seconds}s" if event.exit_seconds is not None else "")
                     + f"; replacement pid {event.replacement_pid}")
    lines += [
        f"gateway   RSS {g.rss_mib_start} -> {g.rss_mib_end} MiB (peak {g.rss_mib_peak}, growth {g.rss_growth_mib}); "
        f"fds {g.fds_start} -> {g.fds_end} (peak {g.fds_peak}); exit {g.exit_code} {g.exit_seconds}s after SIGTERM",
        f"logs      gateway tracebacks {report.logs.gateway_tracebacks}, worker tracebacks "
        f"{report.logs.worker_tracebacks}, secrets in logs {report.logs.secrets_in_logs}",
    ]
    for name, examples in report.examples.items():
        for example in examples[:3]:
            lines.append(f"  e.g. {name}: {example.kind} -> {example.status}: {example.detail[:200]!r}")
    lines.append("PASS" if report.ok else "FAIL: " + "; ".join(report.failures))
    return "\n".join(lines)
