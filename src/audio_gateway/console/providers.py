"""The Providers page: each provider's circuit, recent time to first byte, attempts by outcome, configuration.

Circuit state and the smoothed latencies the `fastest` policy reads are this process's own (they live
beside the breakers). Attempts by outcome and TTFB percentiles come from the ledger's rows of the last
hour, so every replica and worker shows the same figures; at most `MAX_ROWS` of the newest rows are read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import msgspec

from ..gateway import Gateway
from ..ledger.model import LedgerRow
from ..ledger.queries import RowFilter
from ..ledger.store import LedgerStore

__all__ = ["providers_view", "attempt_stats", "WINDOW_SECONDS", "MAX_ROWS"]

WINDOW_SECONDS = 3600
MAX_ROWS = 5000


def _percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (no interpolation): a value that was actually measured."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def attempt_stats(rows: Iterable[LedgerRow]) -> dict[str, dict[str, Any]]:
    """Per provider: attempts by outcome, requests served, and TTFB p50/p95 of the rows it served (pure)."""
    out: dict[str, dict[str, Any]] = {}
    ttfb: dict[str, list[float]] = {}

    def entry(name: str) -> dict[str, Any]:
        return out.setdefault(name, {"attempts": {}, "served": 0})

    for row in rows:
        for attempt in row.attempt_outcomes:
            outcomes = entry(attempt.provider)["attempts"]
            outcomes[attempt.outcome] = outcomes.get(attempt.outcome, 0) + 1
        if row.provider is not None and row.model_served is not None:
            entry(row.provider)["served"] += 1
            if row.ttfb_ms is not None:
                ttfb.setdefault(row.provider, []).append(row.ttfb_ms)
    for name, stats in out.items():
        samples = ttfb.get(name, [])
        stats["ttfb_ms"] = {"p50": _percentile(samples, 0.5), "p95": _percentile(samples, 0.95), "samples": len(samples)}
    return out


async def _recent_rows(store: LedgerStore, since: datetime) -> list[LedgerRow]:
    rows: list[LedgerRow] = []
    before = None
    while len(rows) < MAX_ROWS:
        page = await store.list_rows(RowFilter(since=since), limit=min(500, MAX_ROWS - len(rows)), before=before)
        rows.extend(page.rows)
        if page.next is None:
            break
        before = page.next
    return rows


async def providers_view(gateway: Gateway, store: LedgerStore, now: datetime) -> dict[str, Any]:
    rows = await _recent_rows(store, now - timedelta(seconds=WINDOW_SECONDS))
    stats = attempt_stats(rows)
    circuits = gateway.breakers.views()
    latency = {kind: gateway.latency.views(kind) for kind in ("tts", "stt")}
    models: dict[str, list[str]] = {}
    for model in gateway.plan.models:
        if model.provider:
            models.setdefault(model.provider, []).append(model.id)
    data = []
    for name, provider in gateway.plan.providers.items():
        recent = stats.get(name, {"attempts": {}, "served": 0,
                                  "ttfb_ms": {"p50": None, "p95": None, "samples": 0}})
        data.append({
            "name": name, "adapter": provider.adapter, "description": provider.description,
            "base_url": provider.base_url or None,
            "configured": name not in gateway.unavailable, "reason": gateway.unavailable.get(name),
            "circuit": msgspec.to_builtins(circuits[name]) if name in circuits else None,
            "breaker": msgspec.to_builtins(provider.circuit_breaker),
            "latency_ewma_ms": {kind: (msgspec.to_builtins(views[name]) if name in views else None)
                                for kind, views in latency.items()},
            "models": models.get(name, []),
            **recent,
        })
    return {"object": "console.providers", "window_seconds": WINDOW_SECONDS, "rows_read": len(rows),
            "truncated": len(rows) >= MAX_ROWS, "generated_at": int(now.timestamp()), "data": data}
