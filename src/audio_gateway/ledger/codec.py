"""LedgerRow ⇄ table rows: the one place that knows how a row is laid out in the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

import msgspec

from .model import LedgerAttempt, LedgerLine, LedgerRow

__all__ = ["row_params", "line_params", "row_from_db", "whole_seconds"]

# Columns filled straight from the LedgerRow field of the same name.
_DIRECT = (
    "id", "created_at", "api_key_id", "endpoint", "kind", "model_requested", "model_served", "provider",
    "upstream_model", "attempts", "fell_back", "status", "http_status", "cost_usd", "characters", "utf8_bytes",
    "input_tokens", "audio_input_tokens", "output_tokens", "audio_seconds", "requests", "latency_ms", "ttfb_ms",
    "bytes_in", "bytes_out", "route", "trace_id",
)


def whole_seconds(seconds: Decimal) -> int:
    """Seconds rounded up per row (a 0.2 s clip counts as 1), as the usage API's integer `seconds`."""
    return int(seconds.to_integral_value(rounding=ROUND_CEILING)) if seconds > 0 else 0


def row_params(row: LedgerRow) -> dict[str, Any]:
    params = {name: getattr(row, name) for name in _DIRECT}
    params["attempt_outcomes"] = msgspec.to_builtins(row.attempt_outcomes)
    params["whole_seconds"] = whole_seconds(row.audio_seconds)
    return params


def line_params(row: LedgerRow) -> list[dict[str, Any]]:
    return [{"row_id": row.id, "position": position, "unit": line.unit, "quantity": line.quantity,
             "price_usd": line.price_usd, "per": line.per, "cost_usd": line.cost_usd, "estimated": line.estimated,
             "model": line.model}
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
