"""A job's ledger row: one per job that ran, written when it ends (completed, failed or cancelled).

Its cost is the exact sum of what was made: a speech job's finished pieces (each priced on the model
that served it), a transcription's charge. Lines are kept per model and unit, never summed across.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ..billing import UNITS, Unit
from ..ledger import LedgerLine, LedgerRow, RowStatus
from ..ledger.model import LedgerAttempt
from .model import JobRecord, SpeechJob

__all__ = ["job_row"]


def _lines(record: JobRecord) -> tuple[LedgerLine, ...]:
    grouped: dict[tuple[str, str, str, int], list[Decimal]] = {}
    estimated: set[tuple[str, str, str, int]] = set()
    for piece in record.pieces:
        for line in piece.lines:
            key = (piece.model_served, line.unit, line.price_usd, line.per)
            quantity, cost = grouped.setdefault(key, [Decimal(0), Decimal(0)])
            grouped[key] = [quantity + Decimal(line.quantity), cost + Decimal(line.cost_usd)]
            if line.estimated:
                estimated.add(key)
    return tuple(LedgerLine(unit=unit, quantity=q, price_usd=Decimal(price), per=per, cost_usd=c,
                            estimated=(model, unit, price, per) in estimated, model=model)
                 for (model, unit, price, per), (q, c) in grouped.items())


def job_row(record: JobRecord, *, status: RowStatus, http_status: int, lines: tuple[LedgerLine, ...] | None = None,
            provider: str | None = None, upstream_model: str | None = None, totals: dict[str, object] | None = None,
            attempts: tuple[LedgerAttempt, ...] = ()) -> LedgerRow:
    """The row of a job that ended; speech lines come from its pieces unless `lines` is given (STT)."""
    lines = _lines(record) if lines is None else lines
    if totals is None:
        totals = _speech_totals(record, lines)
    usage = record.usage
    served = usage.model_served.split(",")[0] if usage and usage.model_served else None
    if provider is None and record.pieces:
        provider = next((p.provider for p in record.pieces if p.model_served == served), None)
    ended = datetime.fromtimestamp(record.completed_at or record.created_at, UTC)
    started = datetime.fromtimestamp(record.created_at, UTC)
    return LedgerRow(
        id=record.id, created_at=started, api_key_id=record.key_name, endpoint="jobs", kind=record.kind,
        model_requested=record.model, model_served=served, provider=provider, upstream_model=upstream_model,
        attempts=usage.attempts if usage else sum(p.attempts for p in record.pieces),
        fell_back=bool(served and served != record.model), attempt_outcomes=attempts, status=status,
        http_status=http_status, lines=lines, cost_usd=sum((line.cost_usd for line in lines), Decimal(0)),
        latency_ms=(ended - started).total_seconds() * 1000, bytes_out=record.result.bytes if record.result else 0,
        route=record.route, **totals,  # type: ignore[arg-type]
    )


def _speech_totals(record: JobRecord, lines: tuple[LedgerLine, ...]) -> dict[str, object]:
    """The input's characters and bytes, and every other unit summed over the pieces' lines."""
    totals: dict[str, object] = {}
    if isinstance(record.request, SpeechJob):
        text = record.request.speech.input
        totals = {"characters": len(text), "utf8_bytes": len(text.encode("utf-8", "surrogatepass"))}
    for line in lines:
        field = UNITS[Unit(line.unit)].ledger_total
        if field not in ("characters", "utf8_bytes", "requests"):
            totals[field] = int(totals.get(field, 0)) + int(line.quantity)  # type: ignore[call-overload]
    return totals
