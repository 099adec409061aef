"""LedgerRow values for tests, built the way request code builds them (lines, totals, attempts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from audio_gateway.ledger import LedgerAttempt, LedgerLine, LedgerRow

__all__ = ["T0", "at", "speech_row", "transcription_row", "failed_row"]

T0 = datetime(2024, 11, 1, tzinfo=UTC)  # 1730419200, the spec's example start_time
T0_UNIX = 1730419200


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def speech_row(row_id: str, *, when: datetime = T0, key: str | None = "alice", model: str = "tts-1",
               provider: str = "openai", text: str = "Hello, world!", price: str = "0.000015",
               fell_back: bool = False, **overrides: Any) -> LedgerRow:
    characters = len(text)
    cost = Decimal(price) * characters
    attempts = (LedgerAttempt(provider="openai", model="tts-1", outcome="failed", reason="http_503", status=503),
                LedgerAttempt(provider=provider, model=model, outcome="served")) if fell_back else \
        (LedgerAttempt(provider=provider, model=model, outcome="served"),)
    fields: dict[str, Any] = dict(
        id=row_id, created_at=when, api_key_id=key, endpoint="audio.speech", kind="tts", model_requested="tts-1",
        model_served=model, provider=provider, upstream_model=model, attempts=len(attempts), fell_back=fell_back,
        attempt_outcomes=attempts, status="completed", http_status=200,
        lines=(LedgerLine(unit="character", quantity=Decimal(characters), price_usd=Decimal(price), per=1,
                          cost_usd=cost),),
        cost_usd=cost, characters=characters, utf8_bytes=len(text.encode()), latency_ms=120.5, ttfb_ms=40.25,
        bytes_in=64, bytes_out=32_000)
    fields.update(overrides)
    return LedgerRow(**fields)


def transcription_row(row_id: str, *, when: datetime = T0, key: str | None = "alice", model: str = "whisper-1",
                      provider: str = "openai", seconds: str = "10.4", price: str = "0.0001",
                      endpoint: str = "audio.transcriptions", **overrides: Any) -> LedgerRow:
    duration = Decimal(seconds)
    billed = duration.to_integral_value(rounding=ROUND_CEILING)  # whole seconds, up, as whisper-1 is billed
    cost = billed * Decimal(price)
    fields: dict[str, Any] = dict(
        id=row_id, created_at=when, api_key_id=key, endpoint=endpoint, kind="stt", model_requested=model,
        model_served=model, provider=provider, upstream_model=model, attempts=1, fell_back=False,
        attempt_outcomes=(LedgerAttempt(provider=provider, model=model, outcome="served"),), status="completed",
        http_status=200,
        lines=(LedgerLine(unit="second", quantity=billed, price_usd=Decimal(price), per=1, cost_usd=cost),),
        cost_usd=cost, audio_seconds=duration, latency_ms=800.0, bytes_in=330_000, bytes_out=120)
    fields.update(overrides)
    return LedgerRow(**fields)


def failed_row(row_id: str, *, when: datetime = T0, key: str | None = "alice", kind: str = "tts") -> LedgerRow:
    """A request that reached providers and failed: a row with cost 0, so rows count requests."""
    return LedgerRow(
        id=row_id, created_at=when, api_key_id=key, endpoint="audio.speech" if kind == "tts" else "audio.transcriptions",
        kind=kind, model_requested="tts-1" if kind == "tts" else "whisper-1", model_served=None, provider=None,  # type: ignore[arg-type]
        upstream_model=None, attempts=2, fell_back=True,
        attempt_outcomes=(LedgerAttempt(provider="openai", model="tts-1", outcome="failed", reason="http_500", status=500),
                          LedgerAttempt(provider="siliconflow", model="alibaba/cosyvoice2-0.5b", outcome="failed",
                                        reason="timeout")),
        status="failed", http_status=502, lines=(), cost_usd=Decimal(0), characters=5 if kind == "tts" else 0)
