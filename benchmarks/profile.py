"""Where the gateway spends its CPU under load: py-spy samples, folded into top-N function lists.

`py-spy record --gil` keeps only samples of threads holding the GIL, i.e. Python work on a CPU (idle
waits in the event loop and the log thread drop out). Sampling pauses the gateway for a few tens of
microseconds each time (250 Hz: ~1% of its time); `--nonblocking` would avoid that but truncates
stacks. Besides the top functions, samples are summed per package (the first path component of the
function's file), which says which layer -- server, framework, HTTP client, our code -- costs what.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

__all__ = ["fold", "record"]


def record(py_spy: str, pid: int, seconds: float, out: Path, native: bool = False) -> subprocess.Popen:
    """Start sampling `pid` and its children for `seconds`; wait on the returned process.

    `native` adds C frames: the cyclic garbage collector and system calls (socket writes) then show
    as their own frames instead of as self time of whichever Python function was running."""
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--subprocesses", "--gil", "--rate", "250",
         "--duration", str(int(seconds)), "--format", "raw", "--output", str(out), *(["--native"] if native else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _package(frame: str) -> str:
    """`func (litestar/routes/http.py:12)` → `litestar`; stdlib and frozen modules → `stdlib`.

    py-spy names some of our own modules by their bare file name (`context.py`: the gateway's
    audio_gateway/api modules), so a bare name is stdlib only if the standard library has it."""
    where = frame.partition(" (")[2]
    if ".py" not in where and not where.startswith("<"):
        return "native (C)"  # --native: libc, libpython, uvloop's loop.c, ...
    if "/" in where:
        return where.split("/", 1)[0]
    module = where.split(".py", 1)[0]
    return "stdlib" if where.startswith("<") or module in sys.stdlib_module_names else "audio_gateway"


def _name(frame: str) -> str:
    """`func (path/to/file.py:12)` → `func (file.py)`."""
    func, _, where = frame.partition(" (")
    return f"{func} ({where.rstrip(')').split(':')[0].rsplit('/', 1)[-1]})" if where else func


def fold(raw: Path, top: int = 25) -> str:
    """Self and inclusive shares of the samples in py-spy's raw (collapsed stacks) output."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        raw_frames = [f for f in stack.split(";") if " (" in f]  # drops py-spy's "process …" root
        if not raw_frames:
            continue
        n, frames = int(count), [_name(f) for f in raw_frames]
        total += n
        own[frames[-1]] += n
        packages[_package(raw_frames[-1])] += n
        for name in set(frames):
            inclusive[name] += n
    if not total:
        return "no samples\n"
    pct = lambda c: "\n".join(f"{100 * v / total:5.1f}%  {k}" for k, v in c.most_common(top))  # noqa: E731
    return (f"{total} samples\n\nself, by package:\n{pct(packages)}\n\n"
            f"self (on-CPU in the function itself):\n{pct(own)}\n\ninclusive:\n{pct(inclusive)}\n")
