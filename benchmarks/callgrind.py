"""Instructions per request of a gateway running under valgrind's callgrind, one figure per phase.

Wall-clock CPU on a shared 2-core VM moves by several per cent between identical runs; the
instructions a request executes do not (they weigh a cache miss like a hit, so they bound the time
cost from above). Start the gateway with `wrapper(out)` in front of its command; then each phase
sends a warm-up, zeroes the counters, sends `requests` requests at c32 with that phase's headers,
and dumps. `pause` seconds before zeroing and before dumping let background work catch up (the
ledger's writer flushes every second), so the window holds the measured requests' share of it.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from . import payloads
from .procs import Service

__all__ = ["instructions_per_request", "wrapper", "SLOW_GATEWAY_ENV"]

# A gateway under callgrind is some fifty times slower: at c32 its new upstream connections missed the
# provider's 5 s connect timeout. Instruction counts do not depend on these.
SLOW_GATEWAY_ENV = {"AUDIO_GATEWAY_UPSTREAM_TIMEOUT": "120", "AUDIO_GATEWAY_REQUEST_DEADLINE": "600"}


def wrapper(out: Path) -> tuple[str, ...]:
    """The command to put in front of the gateway's; removes earlier dumps at `out`."""
    for old in glob.glob(f"{out}*"):
        os.remove(old)
    return ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}")


async def _send(service: Service, path: str, body: bytes, headers: Mapping[str, str], count: int) -> None:
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(base_url=service.url, timeout=300, limits=httpx.Limits(max_connections=32)) as http:
        async def one() -> None:
            async with limit:
                response = await http.post(path, content=body, headers=dict(headers))
                assert response.status_code == 200, response.text
        await asyncio.gather(*(one() for _ in range(count)))


def _dumped(out: Path, before: set[str]) -> int:
    for dump in sorted(set(glob.glob(f"{out}.*")) - before, key=os.path.getmtime, reverse=True):
        text = Path(dump).read_text(errors="replace")
        if "Trigger: dump" in text and (found := re.search(r"^summary:\s+(\d+)", text, re.M)):
            return int(found.group(1))
    raise RuntimeError(f"no callgrind dump beside {out}")


def instructions_per_request(service: Service, out: Path, phases: Mapping[str, Mapping[str, str]], *,
                             requests: int, warmup: int = 200, path: str = "/v1/audio/speech",
                             body: bytes = payloads.SPEECH_JSON, pause: float = 0.0) -> dict[str, int]:
    """Per phase name: instructions per request (`phases` maps a name to the requests' headers)."""
    counted = {}
    for name, headers in phases.items():
        asyncio.run(_send(service, path, body, headers, warmup))
        time.sleep(pause)
        before = set(glob.glob(f"{out}.*"))
        subprocess.run(["callgrind_control", "-z", str(service.proc.pid)], check=True, capture_output=True)
        asyncio.run(_send(service, path, body, headers, requests))
        time.sleep(pause)
        subprocess.run(["callgrind_control", "-d", str(service.proc.pid)], check=True, capture_output=True)
        counted[name] = _dumped(out, before) // requests
    return counted
