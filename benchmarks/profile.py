"""Where the gateway spends its CPU under load: py-spy samples, folded into top-N function lists.

`py-spy record --gil` keeps only samples of threads holding the GIL, i.e. Python work on a CPU (idle
waits in the event loop and the log thread drop out). `--nonblocking` avoids pausing the gateway
at every sample, so the profile disturbs the load it measures as little as possible.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

__all__ = ["fold", "record"]


def record(py_spy: str, pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """Start sampling `pid` and its children for `seconds`; wait on the returned process."""
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--subprocesses", "--gil", "--nonblocking", "--rate", "250",
         "--duration", str(int(seconds)), "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _name(frame: str) -> str:
    """`func (path/to/file.py:12)` → `func (file.py)`."""
    func, _, where = frame.partition(" (")
    return f"{func} ({where.split(':')[0].rsplit('/', 1)[-1]})" if where else func


def fold(raw: Path, top: int = 25) -> str:
    """Self and inclusive shares of the samples in py-spy's raw (collapsed stacks) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n, frames = int(count), [_name(f) for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n
    if not total:
        return "no samples\n"
    pct = lambda c: "\n".join(f"{100 * v / total:5.1f}%  {k}" for k, v in c.most_common(top))  # noqa: E731
    return f"{total} samples\n\nself (on-CPU in the function itself):\n{pct(own)}\n\ninclusive:\n{pct(inclusive)}\n"
