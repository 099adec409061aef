"""Where the HTTP handlers hand their ledger rows, and the per-request context a row starts from.

The sink is whatever the app's lifespan opened (`app.state.ledger`, a batched writer); without one
rows are dropped, which keeps tests and tools that need no books cheap. `record` never blocks. Each
row is also what the metrics count and the request's span is annotated with (`app.state.telemetry`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request

from ..ledger import DiscardingSink, Endpoint, LedgerRow, RowSink
from ..ledger.build import RowContext
from .auth import client_key

__all__ = ["row_context", "record_row", "sink_of"]

_DISCARD = DiscardingSink()


def sink_of(app_state: Any) -> RowSink:
    ledger = app_state.get("ledger") if hasattr(app_state, "get") else None
    sink = getattr(ledger, "sink", None)
    return sink if sink is not None else _DISCARD


def row_context(request: Request, *, endpoint: Endpoint, kind: str, model_requested: str, bytes_in: int) -> RowContext:
    state = request.scope["state"]
    key = client_key(request)
    return RowContext(id=state["request_id"], created_at=state.get("started_at") or datetime.now(UTC),
                      api_key_id=key.name if key else None, endpoint=endpoint, kind=kind,
                      model_requested=model_requested, bytes_in=bytes_in, route=state.get("route"),
                      trace_id=state.get("trace_id"))


def record_row(request: Request, row: LedgerRow) -> None:
    state = request.scope["state"]
    state["log"]["ledger"] = row.status
    if "admission" in state:   # the key's reservation is settled with this very cost (api/admission.py)
        state["settle_usd"] = row.cost_usd
    sink_of(request.app.state).record(row)
    telemetry = request.app.state.get("telemetry")
    if telemetry is not None:   # metrics from the very row the books keep; its facts on the request's span
        pinned = request.scope["state"].get("gateway")
        telemetry.observe_row(row, pinned.plan if pinned is not None else None)
