"""LedgerWriter: batching, flush interval, drain, the memory bound, and spill files left by other processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest

from audio_gateway.ledger.queries import RowFilter
from audio_gateway.ledger.spill import SpillFile
from audio_gateway.ledger.writer import LedgerWriter

from .conftest import migrated, run
from .rows import at, speech_row


async def _stored_ids(store) -> list[str]:
    page = await store.list_rows(RowFilter(), limit=10_000)
    return sorted(row.id for row in page.rows)


async def _until(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _rows(prefix: str, count: int):
    return [speech_row(f"{prefix}{i:05d}", when=at(i)) for i in range(count)]


def test_a_full_batch_is_written_without_waiting_for_the_interval(ledger_url, tmp_path):
    async def scenario():
        async with migrated(ledger_url) as store:
            writer = await LedgerWriter(store, tmp_path / "spill", flush_interval=60, batch_size=10).start()
            for row in _rows("r", 25):
                writer.record(row)

            async def all_stored() -> bool:     # a full batch wakes the flusher, which writes all it holds
                return len(await _stored_ids(store)) == 25
            await _until(all_stored)
            stats = writer.stats()
            await writer.aclose()
            return await _stored_ids(store), stats

    ids, stats = run(scenario())
    assert ids == [row.id for row in _rows("r", 25)]
    assert (stats.recorded, stats.written, stats.spilled, stats.pending) == (25, 25, 0, 0)


def test_rows_are_flushed_within_one_interval(tmp_path):
    async def scenario():
        async with migrated(f"sqlite:///{tmp_path / 'l.db'}") as store:
            async with LedgerWriter(store, tmp_path / "spill", flush_interval=0.05) as writer:
                for row in _rows("r", 3):
                    writer.record(row)

                async def three() -> bool:
                    return len(await _stored_ids(store)) == 3
                await _until(three, timeout=2.0)

    run(scenario())


def test_drain_writes_every_recorded_row(ledger_url, tmp_path):
    async def scenario():
        async with migrated(ledger_url) as store:
            writer = await LedgerWriter(store, tmp_path / "spill", flush_interval=60, batch_size=1000).start()
            for row in _rows("r", 700):
                writer.record(row)
            await writer.aclose()
            writer.record(speech_row("late"))              # after close: spilled, replayed by the next writer
            late = writer.stats().spilled
            async with LedgerWriter(store, tmp_path / "spill", flush_interval=60) as successor:
                await successor.flush()
            return await _stored_ids(store), late

    ids, late = run(scenario())
    assert late == 1 and len(ids) == 701 and "late" in ids


def test_closing_as_a_full_batch_wakes_the_flusher_still_stops_it_and_drains(ledger_url, tmp_path):
    """The batch that fills up and the close happen in one loop turn, as when the last requests of a
    shutdown finish together: the flusher's wake and its cancellation arrive at once. On Python 3.11
    `asyncio.wait_for` returns the finished wait and drops the cancellation, and a flusher that only
    stopped when cancelled ran on forever: `aclose` (and with it the gateway's exit) never returned."""
    async def scenario():
        async with migrated(ledger_url) as store:
            writer = await LedgerWriter(store, tmp_path / "spill", flush_interval=60, batch_size=2).start()
            await asyncio.sleep(0)                       # the flusher is waiting for its wake
            for row in _rows("r", 2):
                writer.record(row)                       # the second fills the batch: sets the wake
            closing = asyncio.ensure_future(writer.aclose())  # cancels the flusher in that same turn
            closed, _ = await asyncio.wait([closing], timeout=5)   # (not a timeout around it: that would
            if not closed:                                         # cancel the flusher a second time)
                closing.cancel()
            return bool(closed), await _stored_ids(store), writer.stats()

    closed, ids, stats = run(scenario())
    assert closed, "aclose() did not return: the flusher swallowed its cancellation and ran on"
    assert ids == [row.id for row in _rows("r", 2)]
    assert (stats.recorded, stats.lost, stats.pending) == (2, 0, 0)


def test_past_the_memory_bound_rows_spill_and_are_replayed(ledger_url, tmp_path):
    spill = tmp_path / "spill"

    async def scenario():
        async with migrated(ledger_url) as store:
            writer = await LedgerWriter(store, spill, flush_interval=60, batch_size=1000, max_pending=5).start()
            for row in _rows("r", 12):
                writer.record(row)
            held = writer.stats()
            files = sorted(spill.glob("*.spill.jsonl"))
            await writer.flush()
            after = writer.stats()
            await writer.aclose()
            return held, files, after, await _stored_ids(store)

    held, files, after, ids = run(scenario())
    assert (held.pending, held.spilled) == (5, 7) and len(files) == 1
    assert (after.written, after.replayed) == (5, 7)
    assert ids == [row.id for row in _rows("r", 12)]
    assert list(spill.glob("*.spill.jsonl")) == []


def test_a_dead_process_spill_file_is_replayed_and_a_torn_last_line_skipped(ledger_url, tmp_path):
    spill = tmp_path / "spill"
    spill.mkdir()
    rows = _rows("dead", 30)
    torn = msgspec.json.encode(speech_row("torn"))[:57]          # SIGKILLed in the middle of a write
    (spill / "otherhost-4242-1.spill.jsonl").write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in rows) + torn)

    async def scenario():
        async with migrated(ledger_url) as store:
            await store.write(rows[:10])                          # some were stored before the crash
            async with LedgerWriter(store, spill, flush_interval=60, batch_size=8) as writer:
                await writer.flush()
                stats = writer.stats()
            return stats, await _stored_ids(store)

    stats, ids = run(scenario())
    assert ids == [row.id for row in rows]                        # each once, none twice
    assert stats.replayed == 30
    assert list(spill.iterdir()) == []


def test_a_live_writers_spill_file_is_left_to_it(tmp_path):
    spill = tmp_path / "spill"
    other = SpillFile(spill)                                      # another live process, still spilling
    other.append(_rows("live", 3))

    async def scenario():
        async with migrated(f"sqlite:///{tmp_path / 'l.db'}") as store:
            async with LedgerWriter(store, spill, flush_interval=60) as writer:
                await writer.flush()
                before = await _stored_ids(store)
                other.rotate()                                    # it closes the file (or dies)
                await writer.flush()
                return before, await _stored_ids(store)

    before, after = run(scenario())
    assert before == [] and after == ["live00000", "live00001", "live00002"]


@pytest.mark.parametrize("size", [1, 499, 500, 501])
def test_batches_split_at_the_batch_size(tmp_path, size):
    async def scenario():
        async with migrated(f"sqlite:///{tmp_path / 'l.db'}") as store:
            writer = await LedgerWriter(store, tmp_path / "spill", flush_interval=60, batch_size=500).start()
            for row in _rows("r", size):
                writer.record(row)
            await writer.aclose()
            return len(await _stored_ids(store)), writer.stats()

    count, stats = run(scenario())
    assert count == stats.written == size and stats.spilled == 0


def test_spill_dir_is_created_on_demand(tmp_path: Path):
    spill = SpillFile(tmp_path / "a" / "b")
    spill.append(_rows("r", 2))
    assert spill.path is not None and spill.path.read_bytes().count(b"\n") == 2
    spill.rotate()
    assert not spill.is_open


def test_a_row_built_wrongly_is_set_aside_and_the_rest_stored(tmp_path):
    """A naive created_at cannot be stored anywhere: it must not block the rows around it, now or on replay."""
    bad = speech_row("naive", when=at(5).replace(tzinfo=None))

    async def scenario():
        async with migrated(f"sqlite:///{tmp_path / 'l.db'}") as store:
            async with LedgerWriter(store, tmp_path / "spill", flush_interval=60) as writer:
                for row in [speech_row("ok_1"), bad, speech_row("ok_2")]:
                    writer.record(row)
                await writer.flush()
                await writer.flush()
                return writer.stats(), await _stored_ids(store)

    stats, ids = run(scenario())
    assert ids == ["ok_1", "ok_2"] and stats.rejected == 1 and stats.spilled == 0
    assert (tmp_path / "spill" / "rejected.jsonl").read_bytes().count(b"\n") == 1


def test_a_flush_writes_what_was_pending_and_leaves_rows_recorded_meanwhile_for_the_next(tmp_path):
    """Under load rows keep arriving while a batch is written; chasing them turned every loop turn's
    few rows into a transaction of their own. They wait for the next flush (or the next full batch)."""
    async def scenario():
        async with migrated(f"sqlite:///{tmp_path / 'l.db'}") as store:
            writer = LedgerWriter(store, tmp_path / "spill", flush_interval=60, batch_size=100)
            written: list[int] = []
            arriving = iter(_rows("late", 30))
            original = store.write

            async def write_while_requests_finish(batch):
                written.append(len(batch))
                for row in [next(arriving, None) for _ in range(10)]:   # 10 requests end during each write
                    if row is not None:
                        writer.record(row)
                await original(batch)

            store.write = write_while_requests_finish  # type: ignore[method-assign]
            for row in _rows("r", 250):
                writer.record(row)
            await writer.flush()
            after_first = (list(written), writer.stats().pending)
            await writer.flush(everything=True)
            return after_first, written, await _stored_ids(store)

    (first_sizes, pending), sizes, ids = run(scenario())
    assert first_sizes == [100, 100, 50]           # the 250 pending when it began, in full batches
    assert pending == 30                           # the 30 recorded meanwhile wait
    assert sizes[3:] == [30]                       # and the next flush writes them
    assert len(ids) == 280
