"""Child processes for the benchmark: start, wait until they answer, stop; and their memory.

Every server runs in its own session (process group) so stopping it also stops the workers it
forked, and nothing outlives the benchmark. Memory is read from /proc over the whole process tree,
because a multi-worker server is several processes: VmRSS / VmHWM, or PSS where forked workers share
pages copy-on-write (RSS counts a shared page once in every process that maps it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["Service", "free_port", "pin", "reset_peak", "tree_cpu_seconds", "tree_memory_kb", "tree_pids", "tree_pss_kb"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_ok(port: int, path: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Service:
    """A server subprocess listening on `port`; its output goes to `log`."""

    def __init__(self, name: str, argv: Sequence[str], *, port: int, log: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None):
        self.name, self.port, self.log = name, port, log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None, cwd=cwd,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float) -> None:
        """Poll `GET path` until 200; raise with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if _http_ok(self.port, path):
                return
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-2000:]
        code = self.proc.poll()
        self.stop()
        why = f"exited with status {code}" if code is not None else f"did not answer GET {path} within {timeout:g} s"
        raise RuntimeError(f"{self.name} {why} (port {self.port}); end of {self.log}:\n{tail}")

    def pids(self) -> list[int]:
        return tree_pids(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pin(root: int, cpus: set[int]) -> None:
    """Keep every thread of `root` and its descendants on `cpus` (threads started later inherit it).

    On a 2-core machine the gateway under test gets one core and the load (wrk, the fake provider) the
    other: the scheduler then no longer moves them about, which made one gateway's CPU per request
    swing by a fifth from one run to the next."""
    for pid in tree_pids(root):
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                os.sched_setaffinity(int(task), cpus)
        except OSError:
            continue


def pin_here(cpus: set[int]) -> None:
    """Keep this process's own threads on `cpus`, so what it starts from now on (wrk) inherits them.
    Not `pin(os.getpid(), ...)`: that takes the services this process started along, and once put the
    gateways it had pinned to core 0 back beside the load on core 1."""
    for task in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(task), cpus)


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants (from /proc/*/task/*/children)."""
    pids, queue = [], [root]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    queue.extend(int(child) for child in f.read().split())
        except OSError:
            continue
    return pids


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory_kb(pids: Sequence[int], field: str = "VmRSS:") -> int:
    """Sum of `field` (VmRSS: now, VmHWM: peak since start or the last `reset_peak`) over `pids`."""
    return sum(_status_kb(pid, field) for pid in pids)


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kb(pids: Sequence[int]) -> int:
    """Sum of PSS over `pids`: a page shared by k processes counts 1/k in each, so the sum counts it once.

    Reading smaps_rollup walks the process's page tables (about 2 ms for the gateway): sample it sparingly."""
    return sum(_pss_kb(pid) for pid in pids)


def reset_peak(pids: Sequence[int]) -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs 5; needs owner or root). False if unsupported."""
    try:
        for pid in pids:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        return True
    except OSError:
        return False


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int, *, system_only: bool = False) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()  # the command name may contain spaces
    except OSError:
        return 0
    if system_only:
        return int(fields[12])                # stime: the kernel's work on the process's behalf
    return int(fields[11]) + int(fields[12])  # utime + stime: the process's threads, exited ones included


def tree_cpu_seconds(pids: Sequence[int], *, system_only: bool = False) -> float:
    """User + system CPU time `pids` have used so far (from /proc/PID/stat, in clock ticks of 1/CLK_TCK s);
    `system_only`: the system (kernel) part alone."""
    return sum(_cpu_ticks(pid, system_only=system_only) for pid in pids) / _TICK
