"""What a process that is killed loses: SIGKILL at most the rows of one flush interval, SIGTERM nothing.

A real process records rows steadily through a LedgerWriter with the default 1 s interval (writer_proc.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from audio_gateway.ledger.queries import RowFilter

from ..support.server_thread import REPO
from .conftest import migrated, run

INTERVAL = 1.0


class _Recorder:
    def __init__(self, url: str, spill: str):
        self.process = subprocess.Popen([sys.executable, "-m", "tests.ledger.writer_proc", url, spill, str(INTERVAL)],
                                        cwd=REPO, stdout=subprocess.PIPE, text=True)
        self.recorded: list[tuple[str, float]] = []
        self.flushed: list[int] = []

    def read_until(self, *, flushes: int, records_after: int, timeout: float = 60.0) -> None:
        """Read its output until it has flushed `flushes` times and recorded `records_after` rows since."""
        deadline = time.monotonic() + timeout
        since = 0
        assert self.process.stdout is not None
        for line in self.process.stdout:
            kind, *rest = line.split()
            if kind == "rec":
                self.recorded.append((rest[0], float(rest[1])))
                since += 1
            elif kind == "flushed":
                self.flushed.append(int(rest[0]))
                since = 0
            if len(self.flushed) >= flushes and since >= records_after:
                return
            assert time.monotonic() < deadline, "the recorder made too little progress"

    def finish(self) -> list[str]:
        out, _ = self.process.communicate(timeout=30)
        self.recorded += [(line.split()[1], float(line.split()[2])) for line in out.splitlines()
                          if line.startswith("rec ")]
        return out.splitlines()


async def _stored(url: str) -> list[str]:
    async with migrated(url) as store:
        return [row.id for row in reversed((await store.list_rows(RowFilter(), limit=100_000)).rows)]


def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    recorder = _Recorder(url, str(tmp_path / "spill"))
    recorder.read_until(flushes=2, records_after=20)
    killed_at = time.monotonic()
    os.kill(recorder.process.pid, signal.SIGKILL)
    recorder.finish()
    stored = run(_stored(url))
    recorded = [row_id for row_id, _ in recorder.recorded]
    assert stored == recorded[:len(stored)]                  # what survived is everything up to the last flush
    assert len(stored) >= recorder.flushed[-1]
    lost = recorder.recorded[len(stored):]
    assert len(lost) >= 20                                    # the rows since the last flush are gone
    assert killed_at - lost[0][1] <= INTERVAL + 0.5           # and they span at most one flush interval


def test_sigterm_drains_every_recorded_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    recorder = _Recorder(url, str(tmp_path / "spill"))
    recorder.read_until(flushes=1, records_after=20)
    recorder.process.send_signal(signal.SIGTERM)
    tail = recorder.finish()
    assert recorder.process.returncode == 0 and tail[-1] == "drained"
    assert run(_stored(url)) == [row_id for row_id, _ in recorder.recorded]
