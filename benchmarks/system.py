"""What the benchmark needs from the machine (wrk, py-spy) and what it records about the machine.

`wrk` comes from Debian packages, installed the way scripts/ensure-system-deps.sh installs
redis-server: with apt-get, as root or through sudo. py-spy (for `--profile`) is a wheel installed
into the running venv on first use.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["busy_cpu_seconds", "ensure_py_spy", "ensure_wrk", "machine", "own_cpu_seconds"]


def ensure_wrk() -> str:
    """Path of `wrk`, apt-installing it when missing; raises RuntimeError when it cannot."""
    if found := shutil.which("wrk"):
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"] if shutil.which("sudo") else None
    if sudo is None:
        raise RuntimeError("wrk is missing and installing it needs root or sudo (apt-get install wrk)")
    print("benchmark: installing wrk (apt-get)...", file=sys.stderr, flush=True)
    apt = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    subprocess.run([*apt, "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*apt, "install", "-y", "-qq", "--no-install-recommends", "wrk"], check=True, stdout=subprocess.DEVNULL)
    if found := shutil.which("wrk"):
        return found
    raise RuntimeError("apt-get installed wrk but it is not on PATH")


def ensure_py_spy() -> str:
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "py-spy"],
                       check=True)
    return str(exe)


def _first(path: str, prefix: str) -> str:
    try:
        with open(path) as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(prefix)), "?")
    except OSError:
        return "?"


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "?"


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy so far, all CPUs together (/proc/stat; idle and iowait excluded)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU time of this process and of the children it has reaped (wrk runs, stopped servers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def machine(repo: Path) -> dict[str, object]:
    """Enough to tell whether two runs are comparable: CPUs, RAM, load before starting, code version."""
    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    return {
        "nproc": os.cpu_count(),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "ram_gb": round(int(mem_kb) / 1024 / 1024, 1) if mem_kb.isdigit() else "?",
        "loadavg_at_start": os.getloadavg(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": _git(repo, "rev-parse", "--short", "HEAD") + ("+dirty" if _git(repo, "status", "--porcelain", "src") else ""),
    }
