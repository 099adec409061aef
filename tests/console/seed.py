"""The console tests' ledger: rows spread over the last hour, day, month and beyond, made relative to now."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from audio_gateway.ledger import LedgerAttempt, LedgerRow

from ..ledger.rows import failed_row, speech_row, transcription_row

__all__ = ["seed_rows"]

TTS, COSY, WHISPER = "openai/tts-1", "alibaba/cosyvoice2-0.5b", "openai/whisper-1"


def seed_rows(now: datetime) -> list[LedgerRow]:
    """Speech on OpenAI and (after a fallback) on SiliconFlow, transcriptions, failures; some older than 30 days."""
    rows: list[LedgerRow] = []

    def ago(**delta: float) -> datetime:
        return now - timedelta(**delta)

    for i in range(6):   # the last hour
        rows.append(speech_row(f"seed-h-tts-{i}", when=ago(minutes=3 + 7 * i), key="alice", model=TTS,
                               text="Hello there, operator! " * (i + 1), ttfb_ms=30.0 + 10 * i))
    for i in range(2):
        rows.append(speech_row(f"seed-h-fb-{i}", when=ago(minutes=5 + 11 * i), key="alice", model=COSY,
                               provider="siliconflow", price="0.0000075", fell_back=True, ttfb_ms=210.0 + i))
    rows.append(failed_row("seed-h-failed-0", when=ago(minutes=4), key="bob"))
    rows.append(transcription_row("seed-h-stt-0", when=ago(minutes=9), key="bob", model=WHISPER, seconds="10.4",
                                  ttfb_ms=640.0))
    rows.append(transcription_row("seed-h-stt-1", when=ago(minutes=25), key="bob", model=WHISPER, seconds="3.2",
                                  ttfb_ms=480.0))
    for i in range(5):   # the last day
        rows.append(speech_row(f"seed-d-tts-{i}", when=ago(hours=2 + 4 * i), key="bob" if i % 2 else "alice",
                               model=TTS, text="Good evening. " * (i + 2)))
    rows.append(speech_row("seed-d-fb-0", when=ago(hours=7), key="bob", model=COSY, provider="siliconflow",
                           price="0.0000075", fell_back=True))
    for i in range(6):   # the last 30 days
        rows.append(transcription_row(f"seed-m-stt-{i}", when=ago(days=2 + 4 * i), key="alice", model=WHISPER,
                                      seconds=f"{30 + i}.5"))
    rows.append(failed_row("seed-m-failed-0", when=ago(days=3, hours=5), key="alice", kind="stt"))
    for i in range(2):   # older than any range
        rows.append(speech_row(f"seed-old-{i}", when=ago(days=40 + i), key="alice", model=TTS))
    rows.append(speech_row("seed-h-skip-0", when=ago(minutes=14), key="alice", model=COSY, provider="siliconflow",
                           price="0.0000075", fell_back=True, attempt_outcomes=(
                               LedgerAttempt(provider="openai", model=TTS, outcome="circuit_open"),
                               LedgerAttempt(provider="siliconflow", model=COSY, outcome="served"))))
    return [_routing_words(row) for row in rows]


def _routing_words(row: LedgerRow) -> LedgerRow:
    """The shared row builders say served/failed; routing writes its own outcomes (ok, status, timeout…)."""
    def word(a: LedgerAttempt) -> LedgerAttempt:
        outcome = {"served": "ok", "failed": "status" if a.status else "timeout"}.get(a.outcome, a.outcome)
        return msgspec.structs.replace(a, outcome=outcome)
    return msgspec.structs.replace(row, attempt_outcomes=tuple(word(a) for a in row.attempt_outcomes))
