"""How fast the ledger writer takes rows: `python -m benchmarks.ledger_writer [--rows N] [--stores sqlite,postgresql]`.

For each store (an SQLite file; a throwaway PostgreSQL cluster started here with initdb/pg_ctl, fsync on
as a real server would run), with the writer's defaults (batches of 500):

- record: what `record(row)` costs the request path, per row;
- write: rows/s the flusher stores when it has a backlog (recorded rows, then a flush);
- spill: rows/s going to the spill file while the database is down (PostgreSQL stopped; an SQLite file
  cannot go away, so for SQLite it is the spill file's own append rate, marked *);
- replay: rows/s written back from spill files once the database is reachable.

Prints one line per store and writes nothing else (the databases live in a temporary directory).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.ledger.rows import at, speech_row, transcription_row
from tests.support.services import PostgresServer

from audio_gateway.ledger.spill import SpillFile
from audio_gateway.ledger.store import LedgerStore
from audio_gateway.ledger.writer import LedgerWriter

__all__ = ["main"]


def _rows(prefix: str, count: int) -> list:
    return [(speech_row if i % 2 else transcription_row)(f"{prefix}{i:07d}", when=at(i % 86400)) for i in range(count)]


async def _record_and_write(store: LedgerStore, spill: Path, rows: list) -> tuple[float, float]:
    """(µs per record call, rows/s written) for a backlog of `rows`."""
    writer = await LedgerWriter(store, spill, flush_interval=3600, batch_size=500, max_pending=len(rows) + 1).start()
    started = time.perf_counter()
    for row in rows:
        writer.record(row)
    recorded = time.perf_counter() - started
    started = time.perf_counter()
    await writer.flush()
    written = time.perf_counter() - started
    assert writer.stats().written == len(rows) and writer.stats().spilled == 0
    await writer.aclose()
    return recorded / len(rows) * 1e6, len(rows) / written


async def _spill_while_down(store: LedgerStore, spill: Path, rows: list, stop: Callable[[], None]) -> float:
    stop()
    writer = await LedgerWriter(store, spill, flush_interval=3600, batch_size=500, max_pending=len(rows) + 1,
                                write_timeout=5).start()
    started = time.perf_counter()
    for row in rows:
        writer.record(row)
    await writer.flush()
    elapsed = time.perf_counter() - started
    assert writer.stats().spilled == len(rows), writer.stats()
    writer._spill.rotate()
    writer._closed = True  # noqa: SLF001 — leave the spill file for the replay measurement, as a crash would
    return len(rows) / elapsed


async def _replay(store: LedgerStore, spill: Path, expected: int) -> float:
    writer = await LedgerWriter(store, spill, flush_interval=3600, batch_size=500).start()
    started = time.perf_counter()
    await writer.flush()
    elapsed = time.perf_counter() - started
    assert writer.stats().replayed == expected, writer.stats()
    await writer.aclose()
    return expected / elapsed


async def _measure(kind: str, url: str, work: Path, count: int, outage: tuple[Callable[[], None], Callable[[], None]] | None) -> dict[str, float]:
    store = LedgerStore.from_url(url)
    await store.upgrade()
    try:
        record_us, write_rate = await _record_and_write(store, work / "spill-a", _rows("w", count))
        spill_dir = work / "spill-b"
        replay_rows = _rows("r", count)
        if outage is not None:
            stop, start = outage
            spill_rate = await _spill_while_down(store, spill_dir, replay_rows, stop)
            await asyncio.to_thread(start)
        else:  # an embedded file cannot go away: time the spill file itself
            started = time.perf_counter()
            spill = SpillFile(spill_dir)
            for i in range(0, count, 500):
                spill.append(replay_rows[i:i + 500])
            spill.rotate()
            spill_rate = count / (time.perf_counter() - started)
        replay_rate = await _replay(store, spill_dir, count)
    finally:
        await store.close()
    return {"record_us": record_us, "write": write_rate, "spill": spill_rate, "replay": replay_rate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ledger_writer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    logging.getLogger("audio_gateway.ledger").setLevel(logging.ERROR)  # the outage is on purpose
    work = Path(tempfile.mkdtemp(prefix="ag-ledger-bench-"))
    print(f"{'store':<11} {'rows':>7} {'record µs/row':>14} {'write rows/s':>13} {'spill rows/s':>13} {'replay rows/s':>14}")
    try:
        for kind in args.stores.split(","):
            server = None
            if kind == "sqlite":
                url, outage = f"sqlite:///{work / 'ledger.db'}", None
            else:
                server = PostgresServer(durable=True)
                url, outage = server.create_database("bench"), (server.stop, server.start)
            try:
                got = asyncio.run(_measure(kind, url, work / kind, args.rows, outage))
            finally:
                if server is not None:
                    server.close()
            mark = "*" if outage is None else " "
            print(f"{kind:<11} {args.rows:>7} {got['record_us']:>14.2f} {got['write']:>13,.0f} "
                  f"{got['spill']:>12,.0f}{mark} {got['replay']:>14,.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
