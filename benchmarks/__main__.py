"""`python -m benchmarks` (`make bench`): what the gateway costs, side by side in one run.

Starts a fast fake provider on loopback, the gateway (`audio-gateway serve`) and a LiteLLM proxy
pointed at it, then:

1. wrk load on TTS (32 KB of audio per response) and STT (10 s WAV upload), concurrency 1 and 32,
   against the fake directly, through the gateway, and through LiteLLM;
2. TTFB direct vs through the gateway while the fake streams 2 MB slowly, then the gateway's RSS with
   64 such streams at once;
3. a 25 MB upload: gateway peak RSS increase and added time.

Prints Markdown tables and PASS/FAIL per target of issue 6; writes everything to
benchmarks/out/last-run.json (and .md). Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import shlex
import statistics
import sys
from pathlib import Path

import msgspec

from . import payloads
from .gateway_proc import GATEWAY_KEY, start_gateway, supports_workers
from .litellm_proc import LITELLM_KEY, ensure_litellm, start_litellm
from .load import run_wrk
from .procs import Service, free_port
from .profile import fold, record
from .report import Row, evaluate, render
from .streaming import exchange, median_ttfb_ms, under_memory_watch
from .system import ensure_py_spy, ensure_wrk, machine

REPO = Path(__file__).resolve().parent.parent
ENDPOINTS = {"tts": "/v1/audio/speech", "stt": "/v1/audio/transcriptions"}
CONCURRENCY = (1, 32)


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6, help="measured seconds per load run (default 6; +1 s warm-up)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes for both the gateway (needs `serve --workers`) and LiteLLM; default: one each")
    p.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM comparison")
    p.add_argument("--streams", type=int, default=64, help="concurrent slow streams for the RSS measurement")
    p.add_argument("--profile", action="store_true", help="also py-spy the gateway under TTS c32 load; prints top functions")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    return p.parse_args(argv)


def _headers(kind: str, content_type: str) -> dict[str, str]:
    key = {"direct": "sk-fake-provider", "gateway": GATEWAY_KEY, "litellm": LITELLM_KEY}[kind]
    return {"Authorization": f"Bearer {key}", "Content-Type": content_type}


def _sanity(service_port: int, kind: str, endpoint: str, body: bytes, content_type: str) -> str:
    """'' when one request answers 200 with a plausible body, else why not (the target is then skipped)."""
    try:
        result = asyncio.run(exchange(service_port, ENDPOINTS[endpoint], _headers(kind, content_type), body))
    except OSError as exc:
        return f"unreachable ({exc})"
    if result.status != 200:
        return f"HTTP {result.status}"
    if endpoint == "tts" and result.received < 32 * 1024:
        return f"short body ({result.received} bytes)"
    return ""


Bodies = dict[str, tuple[bytes, str]]


def load_bodies() -> Bodies:
    """Per endpoint: the request body and its content type (the multipart boundary is random)."""
    return {"tts": (payloads.SPEECH_JSON, "application/json"),
            "stt": payloads.multipart({"model": "whisper-1"}, "speech.wav", payloads.wav(10))}


def load_phase(args: argparse.Namespace, work: Path, services: dict[str, Service], bodies: Bodies) -> list[Row]:
    rows = []
    for endpoint, (body, content_type) in bodies.items():
        body_path = work / f"{endpoint}.body"
        body_path.write_bytes(body)
        for kind, service in services.items():
            problem = _sanity(service.port, kind, endpoint, body, content_type)
            for concurrency in CONCURRENCY:
                if problem:
                    rows.append(Row(kind, endpoint, concurrency, 0, 0, 0, 0, note=f"skipped: {problem}"))
                    continue
                print(f"benchmark: {kind} {endpoint} c{concurrency}...", file=sys.stderr, flush=True)
                r = run_wrk(service.url + ENDPOINTS[endpoint], body_path, _headers(kind, content_type),
                            connections=concurrency, seconds=args.seconds, work=work, name=f"{kind}-{endpoint}-c{concurrency}")
                rows.append(Row(kind, endpoint, concurrency, r.rps, r.p50_ms, r.p99_ms, r.errors,
                                note=f"failed: {r.errors} errors of {r.requests}" if r.errors else ""))
    return rows


def profile_phase(args: argparse.Namespace, work: Path, gateway: Service, bodies: Bodies) -> str:
    """Top functions of the gateway under TTS and STT load at c32 (separate runs, so they do not skew the table)."""
    py_spy = ensure_py_spy()
    seconds = max(args.seconds, 8)
    sections = []
    for endpoint, (_, content_type) in bodies.items():
        name = f"profile-{endpoint}-c32"
        sampler = record(py_spy, gateway.proc.pid, seconds - 2, work / f"{name}.raw")
        run_wrk(gateway.url + ENDPOINTS[endpoint], work / f"{endpoint}.body", _headers("gateway", content_type),
                connections=32, seconds=seconds, work=work, name=name, warmup=0)
        sampler.wait(60)
        folded = fold(work / f"{name}.raw")
        (work / f"{name}.txt").write_text(folded)
        sections.append(f"Gateway profile, {endpoint.upper()} c32 (py-spy --gil):\n{folded}")
    return "\n".join(sections)


async def stream_phase(args: argparse.Namespace, fake: Service, gateway: Service) -> dict:
    """TTFB (first body byte) direct vs gateway on a 2 MB slow stream; RSS with many such streams at once."""
    body, path = payloads.SPEECH_JSON, ENDPOINTS["tts"]
    direct = await median_ttfb_ms(fake.port, "/slow" + path, _headers("direct", "application/json"), body, runs=7)
    through = await median_ttfb_ms(gateway.port, path, _headers("gateway", "application/json"), body, runs=7)

    async def many():
        return await asyncio.gather(*(exchange(gateway.port, path, _headers("gateway", "application/json"), body)
                                      for _ in range(args.streams)))

    results, memory = await under_memory_watch(gateway.pids(), many)
    complete = sum(1 for r in results if r.status == 200 and r.received >= 2 * 1024 * 1024)
    return {"ttfb_direct_ms": direct, "ttfb_gateway_ms": through, "ttfb_added_ms": round(through - direct, 2),
            "streams": args.streams, "streams_complete": complete,
            "stream_seconds_max": round(max(r.total_s for r in results), 2),
            "rss_before_mb": memory.before_mb, "rss_peak_mb": memory.peak_mb, "memory": memory.kind}


async def upload_phase(fake: Service, gateway: Service) -> dict:
    """A ~25 MB WAV (800 s) to /v1/audio/transcriptions: added time (median of 3) and peak RSS increase."""
    body, content_type = payloads.multipart({"model": "whisper-1"}, "long.wav", payloads.wav(800))
    path = ENDPOINTS["stt"]

    async def runs(port: int, kind: str) -> list:
        return [await exchange(port, path, _headers(kind, content_type), body) for _ in range(3)]

    direct = await runs(fake.port, "direct")
    through, memory = await under_memory_watch(gateway.pids(), lambda: runs(gateway.port, "gateway"))
    if any(r.status != 200 for r in [*direct, *through]):
        raise RuntimeError(f"25 MB upload failed: {[r.status for r in direct]} direct, {[r.status for r in through]} gateway")
    d, g = (statistics.median(r.total_s for r in rs) for rs in (direct, through))
    return {"bytes": len(body), "direct_s": round(d, 3), "gateway_s": round(g, 3), "added_ms": round((g - d) * 1000, 1),
            "rss_before_mb": memory.before_mb, "rss_peak_mb": memory.peak_mb, "rss_added_mb": memory.added_mb,
            "memory": memory.kind}


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine(REPO),
            "command": "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])}
    exe, litellm_note = (None, "disabled (--no-litellm)") if args.no_litellm else ensure_litellm(REPO / "benchmarks" / ".litellm-venv")
    if args.workers and not supports_workers(REPO):
        print("benchmark: this gateway's `serve` has no --workers; run without --workers", file=sys.stderr)
        return 2
    workers = args.workers
    meta["workers"] = workers or "default (1)"

    bodies = load_bodies()
    fake_port = free_port()
    with Service("fake", [sys.executable, "-m", "benchmarks.fake_provider", "--port", str(fake_port)],
                 port=fake_port, log=work / "fake.log", cwd=REPO) as fake:
        fake.wait_ready("/healthz", timeout=30)
        services = {"direct": fake}
        with start_gateway(REPO, fake.url + "/v1", work / "gateway.log", workers) as gateway:
            services["gateway"] = gateway
            litellm = None
            if exe is not None:
                litellm, litellm_note = start_litellm(exe, fake.url + "/v1", work, workers)
            if litellm is not None:
                services["litellm"] = litellm
            try:
                rows = load_phase(args, work, services, bodies)
            finally:
                if litellm is not None:
                    litellm.stop()
            folded = profile_phase(args, work, gateway, bodies) if args.profile else ""
        print("benchmark: streaming and upload...", file=sys.stderr, flush=True)
        with start_gateway(REPO, fake.url + "/slow/v1", work / "gateway-slow.log", workers) as gateway:
            streaming = asyncio.run(stream_phase(args, fake, gateway))
            upload = asyncio.run(upload_phase(fake, gateway))

    targets = evaluate(rows, streaming, upload, litellm_note)
    text = render(rows, streaming, upload, targets)
    header = (f"{meta['date']} · {meta['machine']['nproc']} CPUs ({meta['machine']['cpu']}) · "
              f"{meta['machine']['ram_gb']} GB · load before start {meta['machine']['loadavg_at_start']} · "
              f"workers: {meta['workers']} · LiteLLM: {litellm_note or 'ok'}")
    print(f"\n{header}\n\n{text}")
    if folded:
        print(folded)
    result = {"meta": meta, "litellm": litellm_note or "ok", "load": rows, "streaming": streaming, "upload": upload,
              "targets": targets, "profile": folded}
    (work / "last-run.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    (work / "last-run.md").write_text(f"{header}\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
