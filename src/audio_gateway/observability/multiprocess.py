"""prometheus-client's multiprocess mode for `serve --workers N`, set up by the parent before it forks.

Each forked worker keeps its own counters; for a scrape (answered by whichever worker accepts it) to
show the sum, prometheus-client must write every value to per-process files in one directory, and it
decides so from `PROMETHEUS_MULTIPROC_DIR` when it is first imported. So the parent makes a fresh
directory for this start (nothing left from an earlier run can be counted again), sets the variable
before any metric exists, and removes the directory when it exits. When a worker dies its live
gauges' files go (`mark_process_dead`: its in-flight requests no longer count); its counters stay,
because a counter must never go down.

This is the one place the gateway writes to its own environment: it is how the library is configured,
and the forked workers inherit it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["ENV", "prepare_directory", "worker_exited", "remove_directory"]

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_directory(parent: Path | None = None) -> Path:
    """A new, empty directory for this start's metric files, made the library's before any metric exists."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="audio-gateway-metrics-", dir=parent))
    os.environ[ENV] = str(directory)
    if "prometheus_client.values" in sys.modules:
        from prometheus_client import values

        if not getattr(values.ValueClass, "_multiprocess", False):
            # Imported before the variable was set (a library did): switch the value class the way the
            # library's own multiprocess tests do, so that metrics made from now on write to the files.
            setattr(values, "ValueClass", values.MultiProcessValue())  # noqa: B010 (a module attribute)
    return directory


def worker_exited(pid: int, directory: Path) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(directory))


def remove_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    if os.environ.get(ENV) == str(directory):
        del os.environ[ENV]
