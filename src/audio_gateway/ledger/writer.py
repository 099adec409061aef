"""`LedgerWriter`: the RowSink request code records into; batches rows into the store off the hot path.

`record(row)` appends to an in-memory buffer and returns: no request waits for the database. A
flusher task writes the buffer in batches of `batch_size` rows, at least every `flush_interval`
seconds and as soon as a batch is full. When a write fails because the database is unreachable (or
slower than `write_timeout`), the batch goes to this process's spill file and every later flush
retries; once a write succeeds again, spill files are replayed. When the buffer holds `max_pending`
rows, further rows go straight to the spill file, so memory stays bounded whatever the database does.

What a SIGKILL can lose is what was still in the buffer: the rows recorded since the last flush, i.e.
at most one flush interval (and never more than `batch_size` rows plus those of the current loop
turn). Spill writes are unbuffered, so a spilled row survives a SIGKILL. `aclose()` (SIGTERM, drain)
flushes everything, spilling what the database will not take within `drain_timeout`.

A row the database refuses as data (too long, a constraint), or one built wrongly (a naive datetime), is
set aside in `rejected.jsonl` beside the spill files and logged, instead of blocking every row behind it
forever. Call `record` from the event loop's thread (request handlers and job tasks do).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType

import msgspec
import sqlalchemy as sa

from .model import LedgerRow
from .spill import SpillFile, spilled_files
from .store import STORE_ERRORS, LedgerStore

__all__ = ["LedgerWriter", "WriterStats"]

log = logging.getLogger("audio_gateway.ledger")



def _refused_rows(exc: BaseException) -> bool:
    """The rows are at fault, not the database: SQLSTATE class 22 (data) or 23 (integrity constraint),
    however the driver wraps it, or anything that is not a database or network failure at all (a row the
    code built wrongly, e.g. a naive datetime, fails while its parameters are bound)."""
    if isinstance(exc, (sa.exc.IntegrityError, sa.exc.DataError)):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        code = getattr(exc.orig, "sqlstate", None)
        return isinstance(code, str) and code[:2] in ("22", "23")
    return not isinstance(exc, STORE_ERRORS)


class WriterStats(msgspec.Struct, frozen=True, kw_only=True):
    recorded: int
    written: int          # rows handed to the store in successful writes (duplicates included)
    spilled: int          # rows that went to a spill file
    replayed: int         # spilled rows written back
    rejected: int         # rows the database refused as data
    lost: int             # rows neither stored nor spilled (the spill file itself failed)
    pending: int          # in memory now
    failed_writes: int


class LedgerWriter:
    def __init__(self, store: LedgerStore, spill_dir: Path, *, flush_interval: float = 1.0, batch_size: int = 500,
                 max_pending: int = 10_000, write_timeout: float = 10.0, drain_timeout: float = 10.0,
                 prepare: Callable[[], Awaitable[object]] | None = None):
        self.store = store
        self.spill_dir = spill_dir
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_pending = max_pending
        self.write_timeout = write_timeout
        self.drain_timeout = drain_timeout
        self._prepare = prepare                # e.g. the schema upgrade, when start-up could not reach the database
        self._pending: deque[LedgerRow] = deque()
        self._spill = SpillFile(spill_dir)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._healthy = True
        self._counts = dict(recorded=0, written=0, spilled=0, replayed=0, rejected=0, lost=0, failed_writes=0)

    # -- RowSink -------------------------------------------------------------------------------------

    def record(self, row: LedgerRow) -> None:
        """Queue one finished row. Never blocks on the database and never raises."""
        self._counts["recorded"] += 1
        if self._closed:  # recorded after the drain: spill it and let go of the file for the next writer
            self._to_spill([row])
            self._spill.rotate()
            return
        if len(self._pending) >= self.max_pending:
            self._to_spill([row])
            return
        self._pending.append(row)
        if len(self._pending) >= self.batch_size:
            self._wake.set()

    # -- life cycle ----------------------------------------------------------------------------------

    async def start(self) -> LedgerWriter:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ledger-writer")
        return self

    async def __aenter__(self) -> LedgerWriter:
        return await self.start()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the flusher and store (or spill) every row recorded so far. Rows recorded later are spilled."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            await self._stop_flusher()
        try:
            async with asyncio.timeout(self.drain_timeout):
                await self.flush(everything=True)
        except TimeoutError:
            log.warning("ledger database did not take the last rows within %gs; spilling them", self.drain_timeout)
        self._to_spill(self._take(len(self._pending)))
        self._spill.rotate()

    def stats(self) -> WriterStats:
        return WriterStats(**self._counts, pending=len(self._pending))

    # -- flushing ------------------------------------------------------------------------------------

    async def _stop_flusher(self) -> None:
        """Wake the flusher to see `_closed`; it ends the write it is in, if any. One that takes longer than
        `drain_timeout` is cancelled (its batch is spilled, see `flush`).

        Stopping by flag, not by cancelling the task's wait: on Python 3.11 `asyncio.wait_for` drops a
        cancellation that arrives in the loop turn its awaitable finishes in (gh-86296), and a flusher that
        only stopped when cancelled then ran on forever, and the gateway never exited."""
        assert self._task is not None
        self._wake.set()
        try:
            async with asyncio.timeout(self.drain_timeout):
                await self._task            # a timeout here cancels the flusher too: it is what we wait on
        except TimeoutError:
            log.warning("ledger flusher still writing after %gs at close; its batch is spilled", self.drain_timeout)

    async def _run(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            if self._closed:
                return                      # `aclose` drains what is pending
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the flusher must outlive any surprise; rows stay pending or spilled
                log.exception("ledger flush failed unexpectedly")

    async def flush(self, *, everything: bool = False) -> None:
        """Write the rows pending now, then replay spill files if the database is taking writes.

        Rows recorded while this flush runs wait for the next one (a full batch wakes it at once):
        chasing them made a busy gateway write one loop turn's rows (~32) per transaction, forever,
        at twice the CPU per row of full batches. `everything` (the drain) writes those too.
        """
        async with self._lock:
            if not await self._ready():
                self._to_spill(self._take(len(self._pending)))
                return
            due = len(self._pending)
            while self._pending and (everything or due > 0):
                batch = self._take(self.batch_size if everything else min(self.batch_size, due))
                due -= len(batch)
                try:
                    stored = await self._write(batch)
                except BaseException:  # cancelled mid-write (shutdown): the batch must not vanish with it
                    self._to_spill(batch)
                    raise
                if not stored:
                    self._to_spill(batch)
                    self._to_spill(self._take(len(self._pending)))
                    return
                self._counts["written"] += len(batch)
            await self._replay()

    def _take(self, count: int) -> list[LedgerRow]:
        return [self._pending.popleft() for _ in range(min(count, len(self._pending)))]

    async def _ready(self) -> bool:
        if self._prepare is None:
            return True
        try:
            async with asyncio.timeout(self.write_timeout):
                await self._prepare()
        except Exception as exc:
            self._unhealthy(exc)
            return False
        self._prepare = None
        return True

    async def _write(self, batch: Sequence[LedgerRow]) -> bool:
        """True when the store has the batch (bad rows set aside); False when the database is unavailable."""
        try:
            async with asyncio.timeout(self.write_timeout):
                await self.store.write(batch)
        except Exception as exc:
            if _refused_rows(exc):
                return await self._write_one_by_one(batch)
            self._counts["failed_writes"] += 1
            self._unhealthy(exc)
            return False
        if not self._healthy:
            self._healthy = True
            log.warning("ledger database %s is reachable again; replaying spilled rows", self.store.url)
        return True

    async def _write_one_by_one(self, batch: Sequence[LedgerRow]) -> bool:
        for row in batch:
            try:
                async with asyncio.timeout(self.write_timeout):
                    await self.store.write([row])
            except Exception as exc:
                if not _refused_rows(exc):
                    self._unhealthy(exc)
                    return False
                self._reject(row, exc)
        return True

    async def _replay(self) -> None:
        self._spill.rotate()
        for spilled in spilled_files(self.spill_dir):
            replayed = 0
            try:
                async for batch in spilled.batches(self.batch_size):
                    if not await self._write(batch):
                        return
                    replayed += len(batch)
                spilled.finish()
                log.info("ledger: replayed %d spilled row(s) from %s", replayed, spilled.path.name)
            finally:
                spilled.release()
                self._counts["replayed"] += replayed

    # -- failure paths -------------------------------------------------------------------------------

    def _unhealthy(self, exc: BaseException) -> None:
        if self._healthy:
            self._healthy = False
            log.warning("ledger database %s unavailable (%s: %s); rows go to spill files in %s until it is back",
                        self.store.url, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "", self.spill_dir)

    def _to_spill(self, rows: Sequence[LedgerRow]) -> None:
        if not rows:
            return
        try:
            self._spill.append(rows)
            self._counts["spilled"] += len(rows)
        except Exception:  # a full disk, or a row that cannot be encoded: record() must still not raise
            self._counts["lost"] += len(rows)
            log.exception("ledger: could not write %d row(s) to the spill file in %s; they are lost",
                          len(rows), self.spill_dir)

    def _reject(self, row: LedgerRow, exc: BaseException) -> None:
        self._counts["rejected"] += 1
        log.error("ledger: the database refused row %s (%s); kept in %s", row.id, type(exc).__name__,
                  self.spill_dir / "rejected.jsonl")
        try:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            with open(self.spill_dir / "rejected.jsonl", "ab") as out:
                out.write(msgspec.json.encode(row) + b"\n")
        except Exception:
            log.exception("ledger: could not keep rejected row %s", row.id)

