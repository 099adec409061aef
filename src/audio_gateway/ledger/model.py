"""One ledger row per request (or job) that reached routing: what was asked, what served, what it cost.

The row is the single record the gateway keeps of a request. It is built once, when the request ends
(a speech stream's last byte, a transcript, a job's final status), and every figure in it is the one
the response's headers, the SSE done event and the access log carried. Writing the same id twice is a
no-op in every store, so a replayed spill file or a retried job can never count twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

import msgspec

__all__ = ["LedgerRow", "LedgerLine", "LedgerAttempt", "RowStatus", "Endpoint", "RowSink", "DiscardingSink", "total_cost"]

RowStatus = Literal["completed", "client_disconnected", "upstream_cut", "failed", "cancelled"]
# The API surface the request came through; jobs are one endpoint whatever their kind.
Endpoint = Literal["audio.speech", "audio.transcriptions", "audio.translations", "jobs"]


class LedgerLine(msgspec.Struct, frozen=True, kw_only=True):
    """One billing component as charged: `quantity` units at `price_usd` per `per` units."""

    unit: str
    quantity: Decimal
    price_usd: Decimal
    per: int
    cost_usd: Decimal
    estimated: bool = False   # the provider did not report this quantity; the catalog's estimate was used
    model: str | None = None  # the model that served this line, when a row mixes models (a job's pieces)


class LedgerAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """One target tried, in order (skipped targets included: not_configured, circuit_open, unsupported)."""

    provider: str
    model: str
    outcome: str
    reason: str = ""
    status: int | None = None


class LedgerRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str                                  # x-request-id, or the job id
    created_at: datetime                     # UTC, timezone-aware: when the request arrived
    api_key_id: str | None                   # the key's name, never its secret; None in open (loopback) mode
    endpoint: Endpoint
    kind: Literal["tts", "stt"]
    model_requested: str                     # what the client sent (an alias stays an alias)
    model_served: str | None                 # catalog id of the target that served; None when none did
    provider: str | None
    upstream_model: str | None
    attempts: int                            # attempts that reached a provider
    fell_back: bool                          # served (or failed) on a target other than the first
    attempt_outcomes: tuple[LedgerAttempt, ...]
    status: RowStatus
    http_status: int
    lines: tuple[LedgerLine, ...]
    cost_usd: Decimal                        # sum of the lines' costs, exact
    cost_final: bool = True                  # False only while a streamed cost is still pending (never stored)
    # Flattened totals per unit, as measured (not as billed): `characters` is always the input's code points.
    characters: int = 0
    utf8_bytes: int = 0
    input_tokens: int = 0
    audio_input_tokens: int = 0
    output_tokens: int = 0
    audio_seconds: Decimal = Decimal(0)
    requests: int = 1
    latency_ms: float = 0.0
    ttfb_ms: float | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    route: str | None = None                 # the routing rule that chose the first target (x-gateway-route)
    trace_id: str | None = None


class RowSink(Protocol):
    """Where finished rows go. `record` never blocks and never raises: no request waits for the books."""

    def record(self, row: LedgerRow) -> None: ...


class DiscardingSink:
    """For code paths and tests that keep no books."""

    def record(self, row: LedgerRow) -> None:
        return None


def total_cost(lines: Sequence[LedgerLine]) -> Decimal:
    return sum((line.cost_usd for line in lines), Decimal(0))
