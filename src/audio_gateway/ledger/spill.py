"""Spill files: where rows go while the database cannot take them, until they are replayed.

Each writer appends JSON lines (one row each, exact decimals as strings) to a file of its own in the
spill directory and holds an exclusive `flock` on it while it is open. Replaying claims a file by
taking that lock without waiting, so a file still being written by a live process (another prefork
worker, a job worker) is left alone, while one left by a process that died (SIGKILL, crash) is
picked up by whichever writer replays next. A claimed file is deleted only after all its rows are
stored; a replay cut short is simply done again later, which the store's idempotent writes make safe.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import IO

import msgspec

from .model import LedgerRow

__all__ = ["SpillFile", "SpilledFile", "spilled_files", "SUFFIX"]

log = logging.getLogger("audio_gateway.ledger")

SUFFIX = ".spill.jsonl"  # rejected.jsonl, beside them, is not one
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(LedgerRow)


class SpillFile:
    """This writer's own append-only spill file, opened on the first spill and locked while open."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._fd: int | None = None
        self.path: Path | None = None

    def append(self, rows: Sequence[LedgerRow]) -> None:
        """Write the rows with one `write` call (no buffering in this process: a SIGKILL loses none)."""
        if not rows:
            return
        if self._fd is None:
            self._open()
        assert self._fd is not None
        data = memoryview(b"".join(_encoder.encode(row) + b"\n" for row in rows))
        while data:
            data = data[os.write(self._fd, data):]

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}{SUFFIX}"
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._fd, self.path = fd, path

    def rotate(self) -> None:
        """Close (and unlock) the current file, so that it can be replayed; the next spill starts another."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self.path = None, None

    @property
    def is_open(self) -> bool:
        return self._fd is not None


class SpilledFile:
    """A spill file claimed for replay (its lock held): read its rows, then `finish` or `release`."""

    def __init__(self, path: Path, handle: IO[bytes]):
        self.path = path
        self._handle = handle
        self.skipped = 0

    async def batches(self, size: int) -> AsyncIterator[list[LedgerRow]]:
        while True:
            raw = await asyncio.to_thread(self._read_lines, size)
            if not raw:
                return
            batch = []
            for line in raw:
                try:
                    batch.append(_decoder.decode(line))
                except msgspec.DecodeError:  # a line cut short by a crash mid-write
                    self.skipped += 1
            if batch:
                yield batch

    def _read_lines(self, size: int) -> list[bytes]:
        found = []
        for line in self._handle:
            if line.strip():
                found.append(line)
            if len(found) >= size:
                break
        return found

    def finish(self) -> None:
        """Every row is stored: delete the file (still holding its lock, so nobody replays it again)."""
        if self.skipped:
            log.error("ledger spill file %s had %d unreadable line(s), skipped", self.path, self.skipped)
        self.path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        self._handle.close()


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def spilled_files(directory: Path) -> Iterator[SpilledFile]:
    """Claim, one at a time, every spill file no live writer holds, oldest first."""
    for path in sorted(directory.glob(f"*{SUFFIX}"), key=_age):
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            continue  # replayed and removed meanwhile
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()  # a live writer's, or another replayer's
            continue
        if os.fstat(handle.fileno()).st_nlink == 0:
            handle.close()  # another replayer finished it between our open and our lock
            continue
        yield SpilledFile(path, handle)
