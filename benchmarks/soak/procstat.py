"""Resident memory and open descriptors of a process, read from /proc (Linux), to show nothing leaks."""

from __future__ import annotations

import os

import msgspec

__all__ = ["ProcSample", "sample"]


class ProcSample(msgspec.Struct, frozen=True):
    rss_kib: int
    fds: int


def sample(pid: int) -> ProcSample | None:
    """VmRSS and the number of entries in /proc/PID/fd; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            rss = next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
        return ProcSample(rss_kib=rss, fds=len(os.listdir(f"/proc/{pid}/fd")))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
