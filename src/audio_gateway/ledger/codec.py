"""LedgerRow ⇄ table rows: the one place that knows how a row is laid out in the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any, Protocol

import msgspec

from .model import LedgerAttempt, LedgerLine, LedgerRow

__all__ = ["ROW_COLUMNS", "LINE_COLUMNS", "Binder", "row_values", "line_values", "row_from_db", "whole_seconds"]

# Columns filled straight from the LedgerRow field of the same name.
_DIRECT = (
    "id", "created_at", "api_key_id", "endpoint", "kind", "model_requested", "model_served", "provider",
    "upstream_model", "attempts", "fell_back", "status", "http_status", "cost_usd", "characters", "utf8_bytes",
    "input_tokens", "audio_input_tokens", "output_tokens", "audio_seconds", "requests", "latency_ms", "ttfb_ms",
    "bytes_in", "bytes_out", "route", "trace_id",
)
# The parameter order of `row_values` and `line_values`: the tables' own column order (schema.py).
ROW_COLUMNS = (
    "id", "created_at", "api_key_id", "endpoint", "kind", "model_requested", "model_served", "provider",
    "upstream_model", "attempts", "fell_back", "attempt_outcomes", "status", "http_status", "cost_usd", "characters",
    "utf8_bytes", "input_tokens", "audio_input_tokens", "output_tokens", "audio_seconds", "whole_seconds", "requests",
    "latency_ms", "ttfb_ms", "bytes_in", "bytes_out", "route", "trace_id",
)
LINE_COLUMNS = ("row_id", "position", "unit", "quantity", "price_usd", "per", "cost_usd", "estimated", "model")
_ATTEMPTS = msgspec.json.Encoder()


def whole_seconds(seconds: Decimal) -> int:
    """Seconds rounded up per row (a 0.2 s clip counts as 1), as the usage API's integer `seconds`."""
    return int(seconds.to_integral_value(rounding=ROUND_CEILING)) if seconds > 0 else 0


class Binder(Protocol):
    """How one backend's driver takes the values SQLAlchemy's column types would otherwise convert."""

    def exact(self, value: Decimal) -> Any: ...

    def utc(self, value: datetime) -> Any: ...

    def flag(self, value: bool) -> Any: ...


def row_values(row: LedgerRow, bind: Binder) -> tuple[Any, ...]:
    """The row as one positional parameter tuple, in `ROW_COLUMNS` order (the table's column order).

    Written out by hand rather than left to SQLAlchemy's per-row bind processing: the writer stores
    every request's row, and building dicts and running each column's type processor cost more CPU
    per request than the rest of the ledger together (benchmarks.ledger_overhead).
    """
    exact = bind.exact
    return (row.id, bind.utc(row.created_at), row.api_key_id, row.endpoint, row.kind, row.model_requested,
            row.model_served, row.provider, row.upstream_model, row.attempts, bind.flag(row.fell_back),
            _ATTEMPTS.encode(row.attempt_outcomes).decode(), row.status, row.http_status, exact(row.cost_usd),
            row.characters, row.utf8_bytes, row.input_tokens, row.audio_input_tokens, row.output_tokens,
            exact(row.audio_seconds), whole_seconds(row.audio_seconds), row.requests, row.latency_ms, row.ttfb_ms,
            row.bytes_in, row.bytes_out, row.route, row.trace_id)


def line_values(row: LedgerRow, bind: Binder) -> list[tuple[Any, ...]]:
    """The row's billing lines as positional tuples, in `LINE_COLUMNS` order."""
    exact, flag = bind.exact, bind.flag
    return [(row.id, position, line.unit, exact(line.quantity), exact(line.price_usd), line.per,
             exact(line.cost_usd), flag(line.estimated), line.model)
            for position, line in enumerate(row.lines)]


def row_from_db(record: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> LedgerRow:
    """Rebuild the row exactly as it was recorded (`lines` in their recorded order)."""
    fields = {name: record[name] for name in _DIRECT}
    attempts = msgspec.convert(record["attempt_outcomes"], tuple[LedgerAttempt, ...])
    billed = tuple(LedgerLine(unit=line["unit"], quantity=line["quantity"], price_usd=line["price_usd"],
                              per=line["per"], cost_usd=line["cost_usd"], estimated=line["estimated"],
                              model=line["model"])
                   for line in sorted(lines, key=lambda line: line["position"]))
    return LedgerRow(**fields, attempt_outcomes=attempts, lines=billed)
