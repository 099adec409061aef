"""One round of the comparison: every figure of issue 17's table, measured once.

1. wrk load on TTS and STT, c1 and c32, against every peer (the fake directly, the gateway, LiteLLM,
   Portkey). A peer whose sanity request answers an HTTP error is still loaded, with its answers
   counted per status, and its row says so (Portkey's speech endpoint on Node 20 answers 500).
2. Scaling: a gateway of `scale_workers` processes under the same TTS (and STT) c32 load; its rows
   are named `gateway-wN`. Whether it wrote a ledger is recorded with them.
3. Upload cost: the one-process gateway's CPU per uploaded MB for 1 s, 10 s and 100 s WAVs.

`--repeat N` runs N rounds against the same servers; the figures are then summarised per round.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import Counter
from pathlib import Path

import msgspec

from . import payloads
from .gateway_proc import GATEWAY_KEY, ledger_state, start_gateway
from .load import run_wrk
from .peers import Peer
from .procs import Service, tree_cpu_seconds
from .report import Row
from .streaming import exchange
from .system import busy_cpu_seconds, own_cpu_seconds
from .upload_cost import UploadCost, measure_upload_cost

__all__ = ["CONCURRENCY", "ENDPOINTS", "Bodies", "Round", "load_bodies", "load_phase", "run_round"]

ENDPOINTS = {"tts": "/v1/audio/speech", "stt": "/v1/audio/transcriptions"}
CONCURRENCY = (1, 32)
Bodies = dict[str, tuple[bytes, str]]


class Round(msgspec.Struct, frozen=True):
    rows: list[Row]
    scale_workers: int | None = None
    scale_rows: list[Row] = []
    ledger_on: bool = False
    ledger: str = "not measured"
    upload_cost: UploadCost | None = None
    seconds: float = 0.0        # wall-clock time of the round
    others_cpu_s: float = 0.0   # CPU time used meanwhile by processes that are not the benchmark's

    @property
    def others_cores(self) -> float:
        """How many CPUs, on average, other people's processes kept busy during the round."""
        return round(self.others_cpu_s / self.seconds, 2) if self.seconds else 0.0


class _Noise:
    """The machine's busy CPU time minus the benchmark's own (itself, reaped children, live servers)."""

    def __init__(self, services: list[Service]):
        self.services = services
        self.started = time.monotonic()
        self.busy, self.own = busy_cpu_seconds(), self._own()

    def _own(self) -> float:
        return own_cpu_seconds() + sum(tree_cpu_seconds(s.pids()) for s in self.services)

    def others(self) -> tuple[float, float]:
        """`(wall seconds, others' CPU seconds)` since the start."""
        busy, own = busy_cpu_seconds() - self.busy, self._own() - self.own
        return round(time.monotonic() - self.started, 1), round(max(0.0, busy - own), 1)


def load_bodies() -> Bodies:
    """Per endpoint: the request body and its content type (the multipart boundary is random)."""
    return {"tts": (payloads.SPEECH_JSON, "application/json"),
            "stt": payloads.multipart({"model": "whisper-1"}, "speech.wav", payloads.wav(10))}


def _sanity(peer: Peer, endpoint: str, body: bytes, content_type: str) -> tuple[str, bool]:
    """`(problem, answered)`: '' when one request answers 200 with a plausible body; `answered` when
    the problem is an HTTP status (the peer is up, so its error rate is worth measuring)."""
    try:
        result = asyncio.run(exchange(peer.service.port, ENDPOINTS[endpoint],
                                      {**peer.headers, "Content-Type": content_type}, body))
    except OSError as exc:
        return f"unreachable ({exc})", False
    if result.status != 200:
        return f"HTTP {result.status}", True
    if endpoint == "tts" and result.received < 32 * 1024:
        return f"short body ({result.received} bytes)", False
    return "", False


_ERROR = re.compile(rb"\b([A-Z]\w*Error: [^\r\n]{1,120})")


def _log_error(log: Path, since: int) -> str:
    """The most frequent `SomethingError: message` the service logged after byte offset `since`."""
    try:
        with open(log, "rb") as f:
            f.seek(since)
            found = Counter(_ERROR.findall(f.read()))
    except OSError:
        return ""
    return found.most_common(1)[0][0].decode(errors="replace").strip() if found else ""


def _failed_note(result_statuses: dict[str, int], requests: int, why: str) -> str:
    counts = ", ".join(f"HTTP {s} x{n}" for s, n in sorted(result_statuses.items()))
    return f"failed: {counts or why} of {requests} requests" + (f"; log: {why}" if why else "")


def load_phase(peers: dict[str, Peer], work: Path, bodies: Bodies, seconds: float, *, tag: str = "",
               concurrency: tuple[int, ...] = CONCURRENCY) -> list[Row]:
    rows = []
    for endpoint, (body, content_type) in bodies.items():
        body_path = work / f"{endpoint}.body"
        body_path.write_bytes(body)
        for name, peer in peers.items():
            problem, answered = _sanity(peer, endpoint, body, content_type)
            for conc in concurrency:
                if problem and not answered:
                    rows.append(Row(name, endpoint, conc, 0, 0, 0, 0, note=f"skipped: {problem}"))
                    continue
                print(f"benchmark{tag}: {name} {endpoint} c{conc}...", file=sys.stderr, flush=True)
                log_at = peer.service.log.stat().st_size if answered else 0
                r = run_wrk(peer.service.url + ENDPOINTS[endpoint], body_path,
                            {**peer.headers, "Content-Type": content_type}, connections=conc, seconds=seconds,
                            work=work, name=f"{name}-{endpoint}-c{conc}", count_statuses=answered)
                note = ""
                if r.errors or answered:
                    why = _log_error(peer.service.log, log_at) if answered else ""
                    note = _failed_note(r.statuses, r.requests, why) if answered else f"failed: {r.errors} errors of {r.requests}"
                rows.append(Row(name, endpoint, conc, r.rps, r.p50_ms, r.p99_ms, r.errors, note=note, statuses=r.statuses))
    return rows


def _scaling(repo: Path, work: Path, fake: Service, bodies: Bodies, seconds: float,
             workers: int, tag: str) -> tuple[list[Row], bool, str]:
    """TTS and STT at c32 through a gateway of `workers` processes; then whether it kept a ledger."""
    log = work / f"gateway-w{workers}.log"
    with start_gateway(repo, fake.url + "/v1", log, workers) as gateway:
        peer = Peer(f"gateway-w{workers}", gateway, {"Authorization": f"Bearer {GATEWAY_KEY}"})
        rows = load_phase({peer.name: peer}, work, bodies, seconds, tag=tag, concurrency=(32,))
    on, how = ledger_state(log)
    return rows, on, how


def run_round(repo: Path, work: Path, peers: dict[str, Peer], bodies: Bodies, *, seconds: float,
              scale_workers: int | None, upload_requests: int, tag: str = "") -> Round:
    noise = _Noise([peer.service for peer in peers.values()])
    rows = load_phase(peers, work, bodies, seconds, tag=tag)
    fake, gateway = peers["direct"].service, peers["gateway"].service
    scale_rows, ledger_on, ledger = [], False, "not measured"
    if scale_workers:
        scale_rows, ledger_on, ledger = _scaling(repo, work, fake, bodies, seconds, scale_workers, tag)
    cost = None
    if upload_requests:
        print(f"benchmark{tag}: STT CPU per uploaded MB...", file=sys.stderr, flush=True)
        cost = measure_upload_cost(gateway, fake, ENDPOINTS["stt"], peers["gateway"].headers, requests=upload_requests)
    wall, others = noise.others()
    return Round(rows, scale_workers, scale_rows, ledger_on, ledger, cost, wall, others)
