"""Counts outcomes as they arrive, keeping a few examples of every kind of violation for the report."""

from __future__ import annotations

from collections import Counter, defaultdict

import msgspec

from .send import GATEWAY_5XX, Outcome

__all__ = ["Example", "Tally", "VIOLATIONS"]

VIOLATIONS = ("unexpected_5xx", "bad_error_shape", "transport_errors", "not_rejected", "bad_success",
              "leaked_secrets", "idempotency_broken", "held_connections")
"""Per-response invariants; each must stay at zero."""
_EXAMPLES = 5


class Example(msgspec.Struct, frozen=True):
    kind: str
    status: int | None
    detail: str
    request_id: str | None


class Tally:
    """Mutable, but local to one run: nothing here outlives `run_soak`."""

    def __init__(self) -> None:
        self.sent = 0
        self.answered = 0
        self.truncated = 0
        self.by_status: Counter[str] = Counter()
        self.by_kind: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.violations: Counter[str] = Counter({name: 0 for name in VIOLATIONS})
        self.examples: defaultdict[str, list[Example]] = defaultdict(list)
        self.latencies: list[float] = []
        self.jobs: dict[str, str] = {}
        """Accepted job id -> the client key that owns it."""
        self._idempotent: dict[str, str] = {}
        """Idempotency-Key -> the job id its first 202 named."""

    def _flag(self, name: str, outcome: Outcome, detail: str) -> None:
        self.violations[name] += 1
        if len(self.examples[name]) < _EXAMPLES:
            self.examples[name].append(Example(outcome.kind, outcome.status, detail[:400], outcome.request_id))

    def add(self, outcome: Outcome) -> None:
        self.sent += 1
        if outcome.status is None:
            self.by_status["transport_error"] += 1
            self.by_kind[outcome.kind]["transport_error"] += 1
            self._flag("transport_errors", outcome, outcome.transport_error or "")
            return
        status = outcome.status
        self.by_status[str(status)] += 1
        self.by_kind[outcome.kind][str(status)] += 1
        if outcome.truncated:
            self.truncated += 1
            self.by_kind[outcome.kind]["truncated"] += 1
            if len(self.examples["truncated"]) < _EXAMPLES:
                self.examples["truncated"].append(Example(outcome.kind, status, outcome.truncated, outcome.request_id))
        else:
            self.answered += 1
            self.latencies.append(outcome.seconds)
        body = outcome.body.decode("utf-8", "replace")
        if status >= 500 and status not in GATEWAY_5XX:
            self._flag("unexpected_5xx", outcome, body)
        if not outcome.error_shape_ok:
            self._flag("bad_error_shape", outcome, body)
        if outcome.expect == "reject" and not 400 <= status < 500:
            self._flag("not_rejected", outcome, body)
        if outcome.problem:
            self._flag("bad_success", outcome, f"{outcome.problem}: {body}")
        if outcome.leaked:
            self._flag("leaked_secrets", outcome, body)
        if outcome.held:
            self._flag("held_connections", outcome, f"still open {outcome.seconds:.1f}s after its answer: {body}")
        if outcome.job_id:
            self.jobs[outcome.job_id] = outcome.job_key or "alice"
            if outcome.idempotency_key:
                first = self._idempotent.setdefault(outcome.idempotency_key, outcome.job_id)
                if first != outcome.job_id:
                    self._flag("idempotency_broken", outcome, f"{outcome.idempotency_key}: {first} then {outcome.job_id}")

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)
