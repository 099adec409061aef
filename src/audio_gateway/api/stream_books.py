"""`StreamTally`: what a relayed stream sent, and the ledger row written when it ends.

Speech audio and transcript events are relayed the same way as far as the books go: the time to the
first byte, the bytes sent, how the stream ended, then one row and the log line's billing fields from
the settled charge. Each relay keeps only what differs (framing, and what an upstream cut does).
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Request

from ..billing import Charge, RequestFacts, Usage
from ..catalog import Target
from ..ledger import RowStatus
from ..ledger.build import RowContext, served_row
from ..routing import Attempt
from .billing_headers import log_fields
from .books import record_row

__all__ = ["StreamTally"]


class StreamTally:
    __slots__ = ("_request", "_ctx", "_started", "sent", "ttfb_ms", "status")

    def __init__(self, request: Request, ctx: RowContext):
        self._request = request
        self._ctx = ctx
        self._started: float = request.scope["state"].get("started_perf", time.perf_counter())
        self.sent = 0
        self.ttfb_ms: float | None = None
        self.status: RowStatus = "client_disconnected"   # unless the relay says how else it ended

    @property
    def log(self) -> dict[str, Any]:
        log: dict[str, Any] = self._request.scope["state"]["log"]
        return log

    def sending(self, body: bytes) -> bytes:
        """Count `body` as sent (the first one marks the time to first byte) and hand it back."""
        if self.ttfb_ms is None:
            self.ttfb_ms = (time.perf_counter() - self._started) * 1000
        self.sent += len(body)
        return body

    def book(self, *, target: Target, attempts: tuple[Attempt, ...], charge: Charge, usage: Usage,
             facts: RequestFacts | None, upstream_usage: Usage | None) -> None:
        """The stream is over: its billing fields on the log line, and its row in the ledger."""
        self.log.update(log_fields(target, attempts, charge))
        if upstream_usage is not None:
            self.log["upstream_usage"] = {str(k): int(v) for k, v in upstream_usage.quantities.items()}
        record_row(self._request, served_row(
            self._ctx, target=target, attempts=attempts, charge=charge, usage=usage, facts=facts, status=self.status,
            http_status=200, latency_ms=(time.perf_counter() - self._started) * 1000, ttfb_ms=self.ttfb_ms,
            bytes_out=self.sent))
