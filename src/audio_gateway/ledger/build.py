"""Building ledger rows from what a request did: pure, shared by the HTTP API and the job worker.

`RowContext` is what is known when a request arrives (id, key, endpoint, model asked); the builders
add what routing and billing produced. The figures are the very `Charge` the headers were made from,
so a header and its row cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import msgspec

from ..billing import UNITS, Charge, RequestFacts, Usage
from ..catalog import Target
from ..routing import Attempt
from .model import Endpoint, LedgerAttempt, LedgerLine, LedgerRow, RowStatus

__all__ = ["RowContext", "served_row", "failed_row", "ledger_lines", "ledger_attempts"]


class RowContext(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    created_at: datetime
    api_key_id: str | None
    endpoint: Endpoint
    kind: str
    model_requested: str
    bytes_in: int = 0
    route: str | None = None
    trace_id: str | None = None


def ledger_lines(charge: Charge) -> tuple[LedgerLine, ...]:
    return tuple(LedgerLine(unit=str(line.unit), quantity=line.quantity, price_usd=line.price_usd, per=line.per,
                            cost_usd=line.usd, estimated=line.estimated) for line in charge.lines)


def ledger_attempts(attempts: Iterable[Attempt]) -> tuple[LedgerAttempt, ...]:
    return tuple(LedgerAttempt(provider=a.provider, model=a.model, outcome=str(a.outcome), reason=a.reason,
                               status=a.status) for a in attempts)


def _totals(facts: RequestFacts | None, usage: Usage) -> dict[str, object]:
    """Measured totals: the input's characters and bytes, the audio's seconds, then every unit used."""
    totals: dict[str, object] = {}
    if facts is not None:
        if facts.kind == "tts":
            totals["characters"] = len(facts.text)
            totals["utf8_bytes"] = len(facts.text.encode("utf-8", "surrogatepass"))
        else:
            totals["audio_seconds"] = facts.audio_seconds
    for unit, quantity in usage.quantities.items():
        field = UNITS[unit].ledger_total
        totals[field] = quantity if field == "audio_seconds" else int(quantity)
    return totals


def served_row(ctx: RowContext, *, target: Target, attempts: tuple[Attempt, ...], charge: Charge, usage: Usage,
               facts: RequestFacts | None, status: RowStatus, http_status: int, latency_ms: float,
               ttfb_ms: float | None, bytes_out: int) -> LedgerRow:
    first = attempts[0] if attempts else None
    return LedgerRow(
        id=ctx.id, created_at=ctx.created_at, api_key_id=ctx.api_key_id, endpoint=ctx.endpoint,
        kind="tts" if ctx.kind == "tts" else "stt", model_requested=ctx.model_requested,
        model_served=target.model.id, provider=target.provider.name, upstream_model=target.model.upstream_model,
        attempts=sum(a.reached_provider for a in attempts),
        fell_back=first is not None and first.model != target.model.id,
        attempt_outcomes=ledger_attempts(attempts), status=status, http_status=http_status,
        lines=ledger_lines(charge), cost_usd=charge.total_usd, cost_final=charge.final,
        latency_ms=round(latency_ms, 3), ttfb_ms=None if ttfb_ms is None else round(ttfb_ms, 3),
        bytes_in=ctx.bytes_in, bytes_out=bytes_out, route=ctx.route, trace_id=ctx.trace_id,
        **_totals(facts, usage),  # type: ignore[arg-type]
    )


def failed_row(ctx: RowContext, *, attempts: tuple[Attempt, ...], http_status: int, latency_ms: float,
               facts: RequestFacts | None = None, status: RowStatus = "failed") -> LedgerRow:
    """A request that reached routing and was not served (every target failed or was skipped, or the
    provider refused the input): a row at cost 0, so that rows count requests."""
    last = attempts[-1] if attempts else None
    return LedgerRow(
        id=ctx.id, created_at=ctx.created_at, api_key_id=ctx.api_key_id, endpoint=ctx.endpoint,
        kind="tts" if ctx.kind == "tts" else "stt", model_requested=ctx.model_requested,
        model_served=None, provider=last.provider if last else None, upstream_model=None,
        attempts=sum(a.reached_provider for a in attempts), fell_back=len(attempts) > 1,
        attempt_outcomes=ledger_attempts(attempts), status=status, http_status=http_status,
        lines=(), cost_usd=Decimal(0), latency_ms=round(latency_ms, 3), bytes_in=ctx.bytes_in,
        route=ctx.route, trace_id=ctx.trace_id, **_totals(facts, Usage()),  # type: ignore[arg-type]
    )
