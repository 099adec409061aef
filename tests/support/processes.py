"""The forked workers of a `serve --workers N` supervisor, and freezing all but one of them."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["children", "wait_for_children", "only"]


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found.update(int(child) for child in f.read().split())
    return found


def wait_for_children(pid: int, check: Callable[[set[int]], bool], timeout: float = 5.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while not check(found := children(pid)):
        assert time.monotonic() < deadline, f"the supervisor's children stayed {sorted(found)}"
        time.sleep(0.02)
    return found


@contextmanager
def only(supervisor: int, worker: int) -> Iterator[None]:
    """Freeze every other worker (SIGSTOP): only `worker` accepts connections meanwhile."""
    others = children(supervisor) - {worker}
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)
