"""The Overview page's figures: requests, spend and fallbacks per time bucket, by model and by provider.

One ledger totals query per grouping and measure (the same `LedgerStore.totals` the Usage and Costs API
sums with), so every number the page shows is the API's number. Buckets are aligned to whole minutes,
hours or days (UTC) and end with the one now falls in; money stays an exact decimal string.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from ..billing import decimal_text
from ..ledger.queries import GroupKey, Total, TotalsQuery
from ..ledger.store import LedgerStore

__all__ = ["RANGES", "Window", "window_for", "overview", "ERROR_STATUSES", "ERROR_WINDOW_SECONDS"]

# name → (bucket seconds, buckets): the last hour by minute, the last day by hour, the last 30 days by day.
RANGES: dict[str, tuple[int, int]] = {"hour": (60, 60), "day": (3600, 24), "month": (86400, 30)}
# Rows that count as errors: routing gave up, or the provider cut the answer off.
ERROR_STATUSES = ("failed", "upstream_cut")
ERROR_WINDOW_SECONDS = 900


class Window(msgspec.Struct, frozen=True):
    start: int
    bucket_seconds: int
    buckets: int

    @property
    def end(self) -> int:
        return self.start + self.bucket_seconds * self.buckets

    def utc(self, at: int) -> datetime:
        return datetime.fromtimestamp(at, UTC)


def window_for(name: str, now: int) -> Window:
    """The buckets of a range: aligned to the bucket width, the last containing `now`."""
    width, count = RANGES[name]
    end = (now // width + 1) * width
    return Window(start=end - width * count, bucket_seconds=width, buckets=count)


def _series(totals: Sequence[Total], field: GroupKey, window: Window, measure: str) -> dict[str, list[Any]]:
    """{group: [value per bucket]} — ints for counts, exact decimal strings for money."""
    zero: Any = "0" if measure == "cost_usd" else 0
    out: dict[str, list[Any]] = {}
    for total in totals:
        name = getattr(total, field) or "none"
        values = out.setdefault(name, [zero] * window.buckets)
        if 0 <= total.bucket < window.buckets:
            value = getattr(total, measure)
            values[total.bucket] = decimal_text(value) if measure == "cost_usd" else value
    return dict(sorted(out.items()))


async def _grouped(store: LedgerStore, window: Window, field: GroupKey, **where: Any) -> list[Total]:
    return await store.totals(TotalsQuery(start=window.utc(window.start), end=window.utc(window.end),
                                          bucket_seconds=window.bucket_seconds, group_by=(field,), **where))


async def _error_rate(store: LedgerStore, now: int) -> dict[str, Any]:
    start, end = now - ERROR_WINDOW_SECONDS, now + 1
    query = TotalsQuery(start=datetime.fromtimestamp(start, UTC), end=datetime.fromtimestamp(end, UTC),
                        bucket_seconds=end - start)
    requests = sum(t.requests for t in await store.totals(query))
    errors = sum(t.requests for t in await store.totals(msgspec.structs.replace(query, statuses=ERROR_STATUSES)))
    return {"window_seconds": ERROR_WINDOW_SECONDS, "requests": requests, "errors": errors,
            "rate": errors / requests if requests else 0.0}


async def overview(store: LedgerStore, range_name: str, now: datetime) -> dict[str, Any]:
    stamp = int(now.timestamp())
    window = window_for(range_name, stamp)
    body: dict[str, Any] = {"object": "console.overview", "range": range_name,
                            "start_time": window.start, "end_time": window.end,
                            "bucket_seconds": window.bucket_seconds,
                            "buckets": [window.start + i * window.bucket_seconds for i in range(window.buckets)]}
    for field in ("model", "provider"):
        every = await _grouped(store, window, field)
        fallbacks = await _grouped(store, window, field, fell_back=True)
        body[f"by_{field}"] = {"requests": _series(every, field, window, "requests"),
                               "cost_usd": _series(every, field, window, "cost_usd"),
                               "fallbacks": _series(fallbacks, field, window, "requests")}
        if field == "model":   # every row has one model (served, else asked for): the grand totals
            body["totals"] = {"requests": sum(t.requests for t in every),
                              "cost_usd": decimal_text(sum((t.cost_usd for t in every), Decimal(0))),
                              "fallbacks": sum(t.requests for t in fallbacks)}
    body["error_rate"] = await _error_rate(store, stamp)
    body["generated_at"] = stamp
    return body
