"""Ledger rows a running test gateway hands to its sink, captured for assertions.

`capture_rows(server)` puts a recorder in front of whatever ledger the app opened (forwarding every row
and every other attribute to it), so a test can read the exact row a request ended as.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from audio_gateway.ledger import LedgerRow

from .server_thread import GatewayServer

__all__ = ["CapturedRows", "capture_rows"]


class CapturedRows:
    def __init__(self, original: Any):
        self._original = original
        self._rows: list[LedgerRow] = []
        self._cond = threading.Condition()

    @property
    def sink(self) -> CapturedRows:
        return self

    def record(self, row: LedgerRow) -> None:
        with self._cond:
            self._rows.append(row)
            self._cond.notify_all()
        original = getattr(self._original, "sink", None)
        if original is not None:
            original.record(row)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)

    def row(self, request_id: str, timeout: float = 5.0) -> LedgerRow:
        """The row of `request_id`; a stream's row is written just after its last byte, so wait for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [row for row in self._rows if row.id == request_id]
                if found:
                    return found[-1]
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no ledger row for {request_id}"
                self._cond.wait(remaining)


def capture_rows(server: GatewayServer) -> CapturedRows:
    """Install on a started server (after its lifespan opened its own ledger, if any)."""
    state = server.app.state
    captured = CapturedRows(state.get("ledger"))
    state.ledger = captured
    return captured
