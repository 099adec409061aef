"""The SQLite store's write path: on the event loop, never waiting on another process's lock there.

Rows are written from the loop (sqlite.py says why); what must hold is that a write lock held by
another process (a prefork worker, a job worker) neither blocks the loop nor loses the rows: the
writer retries asynchronously and stores them once the lock is free. And request ids, which are the
rows' primary keys, are time-ordered so consecutive rows are index neighbours.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time

from audio_gateway.api.context import new_request_id
from audio_gateway.ledger.queries import RowFilter

from .conftest import migrated, run
from .rows import at, speech_row


def test_a_write_waits_for_another_process_lock_without_blocking_the_loop(tmp_path):
    path = tmp_path / "ledger.db"

    async def scenario():
        async with migrated(f"sqlite:///{path}") as store:
            other = sqlite3.connect(path, isolation_level=None)   # stands in for another process
            other.execute("BEGIN IMMEDIATE")                      # holds the write lock
            write = asyncio.create_task(store.write([speech_row(f"r{i}", when=at(i)) for i in range(300)]))
            ticks, started = 0, time.monotonic()
            while time.monotonic() - started < 0.3:                # the loop keeps turning meanwhile
                await asyncio.sleep(0.01)
                ticks += 1
            assert not write.done(), "the write went through a lock another connection holds"
            other.execute("COMMIT")
            other.close()
            await asyncio.wait_for(write, 5)
            page = await store.list_rows(RowFilter(), limit=1000)
            return ticks, len(page.rows)

    ticks, stored = run(scenario())
    assert ticks >= 10        # 0.3 s in 10 ms sleeps: a loop blocked on the lock would manage one or two
    assert stored == 300


def test_request_ids_keep_openai_shape_and_sort_by_time():
    first = new_request_id().decode()
    time.sleep(0.002)
    later = [new_request_id().decode() for _ in range(50)]
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", rid) for rid in [first, *later])
    assert all(first < rid for rid in later)
    assert len(set(later)) == 50
    millis = int(first[4:16], 16)
    assert abs(millis - time.time() * 1000) < 5_000
