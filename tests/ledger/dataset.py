"""One fixed set of ledger rows for the read-side tests (API and CLI): every kind, key, unit and outcome."""

from __future__ import annotations

from decimal import Decimal

from audio_gateway.ledger import LedgerLine, LedgerRow

from .rows import at, failed_row, speech_row, transcription_row

__all__ = ["DATASET", "DAY", "PAGED_DAYS"]

DAY = 86400
PAGED_DAYS = 10

DATASET: tuple[LedgerRow, ...] = (
    speech_row("req_alice_1", key="alice", when=at(10)),
    speech_row("req_alice_2", key="alice", when=at(3700), model="alibaba/cosyvoice2-0.5b", provider="siliconflow",
               fell_back=True, price="0.00000715", text="Grüße, 世界!"),
    transcription_row("req_alice_3", key="alice", when=at(30), seconds="0.2"),
    failed_row("req_alice_4", key="alice", when=at(50)),
    speech_row("req_alice_5", key="alice", when=at(DAY + 5), model="gpt-4o-mini-tts", lines=(
        LedgerLine(unit="input_token", quantity=Decimal(4), price_usd=Decimal("0.6"), per=1_000_000,
                   cost_usd=Decimal("0.0000024")),
        LedgerLine(unit="output_token", quantity=Decimal(120), price_usd=Decimal("12"), per=1_000_000,
                   cost_usd=Decimal("0.00144"), estimated=True)), cost_usd=Decimal("0.0014424"), input_tokens=4,
        output_tokens=120),
    speech_row("req_bob_1", key="bob", when=at(20), text="bob says hi"),
    transcription_row("req_bob_2", key="bob", when=at(40), seconds="61", model="alibaba/sensevoice-small",
                      provider="siliconflow", price="0.0000001", endpoint="audio.translations"),
    transcription_row("job_bob_3", key="bob", when=at(DAY + 70), seconds="125.5", endpoint="jobs"),
    speech_row("req_ops_1", key="ops", when=at(2 * DAY + 1), cost_usd=Decimal("12345678.123456789"),
               lines=(LedgerLine(unit="request", quantity=Decimal(1), price_usd=Decimal("12345678.123456789"), per=1,
                                 cost_usd=Decimal("12345678.123456789")),)),
    *(speech_row(f"req_day_{d}", key="alice", when=at(d * DAY + 100), text="x" * d)
      for d in range(3, PAGED_DAYS)),
)
