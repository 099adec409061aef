"""A process that records ledger rows steadily, as a busy gateway would, for the SIGKILL/SIGTERM tests.

    python -m tests.ledger.writer_proc DATABASE_URL SPILL_DIR FLUSH_INTERVAL

Prints `rec <id> <monotonic>` after each row is recorded and `flushed <rows written> <monotonic>` when a
flush has stored more. SIGTERM stops recording, drains the writer (as the gateway's shutdown does), prints
`drained` and exits 0.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from audio_gateway.ledger.store import LedgerStore
from audio_gateway.ledger.writer import LedgerWriter

from .rows import at, speech_row


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(url: str, spill: Path, interval: float) -> None:
    store = LedgerStore.from_url(url)
    await store.upgrade()
    writer = await LedgerWriter(store, spill, flush_interval=interval, batch_size=100_000).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    _say("ready")
    written, n = 0, 0
    while not stop.is_set():
        row_id = f"row{n:06d}"
        writer.record(speech_row(row_id, when=at(n)))
        _say(f"rec {row_id} {time.monotonic():.6f}")
        n += 1
        if writer.stats().written != written:
            written = writer.stats().written
            _say(f"flushed {written} {time.monotonic():.6f}")
        await asyncio.sleep(0.005)
    await writer.aclose()
    await store.close()
    _say("drained")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])))
