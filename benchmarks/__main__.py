"""`python -m benchmarks` (`make bench`): what the gateway costs, side by side with its peers in one run.

Starts a fast fake provider on loopback, the gateway (`audio-gateway serve`), a LiteLLM proxy and
Portkey's gateway, all pointed at it, then:

1. rounds (`--repeat N`, see rounds.py): wrk load on TTS (32 KB of audio per response) and STT (10 s
   WAV upload), c1 and c32, against the fake directly, the gateway, LiteLLM and Portkey; TTS and STT
   c32 through a gateway of `--scale-workers` processes; the gateway's CPU per uploaded MB for 1 s,
   10 s and 100 s WAVs;
2. TTFB direct vs through the gateway while the fake streams 2 MB slowly, then the gateway's RSS with
   64 such streams at once;
3. a 25 MB upload: gateway peak RSS increase and added time.

Prints Markdown tables and PASS/FAIL per target of issue 6 (on the round with the median req/s of
each row) and of issue 17 (medians over the rounds, with min–max); writes everything to
benchmarks/out/last-run.json (and .md). Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import shlex
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec

from . import payloads
from .candidates import render_prices
from .gateway_proc import GATEWAY_KEY, start_gateway, supports_workers
from .issue17 import evaluate17, render17
from .litellm_proc import ensure_litellm
from .load import run_wrk
from .peers import Installed, compared_peers
from .portkey_proc import ensure_portkey
from .procs import Service, free_port
from .profile import fold, record
from .report import Row, evaluate, render
from .rounds import ENDPOINTS, Bodies, Round, load_bodies, run_round
from .streaming import exchange, median_ttfb_ms, under_memory_watch
from .system import ensure_py_spy, ensure_wrk, machine

REPO = Path(__file__).resolve().parent.parent


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6, help="measured seconds per load run (default 6; +1 s warm-up)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes for both the gateway (needs `serve --workers`) and LiteLLM; default: one each")
    p.add_argument("--repeat", type=int, default=1, help="rounds of the whole comparison (median and min–max per figure)")
    p.add_argument("--scale-workers", type=int, default=2,
                   help="processes of the gateway whose TTS c32 is compared with one process's (0: skip)")
    p.add_argument("--upload-requests", type=int, default=500,
                   help="STT requests per WAV size (1 s, 10 s, 100 s) for CPU per uploaded MB (0: skip)")
    p.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM comparison")
    p.add_argument("--no-portkey", action="store_true", help="skip the Portkey comparison")
    p.add_argument("--streams", type=int, default=64, help="concurrent slow streams for the RSS measurement")
    p.add_argument("--profile", action="store_true", help="also py-spy the gateway under TTS and STT c32 load")
    p.add_argument("--profile-native", action="store_true",
                   help="with --profile: sample C frames too (shows the garbage collector and socket writes)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    return p.parse_args(argv)


def _headers(kind: str, content_type: str) -> dict[str, str]:
    key = {"direct": "sk-fake-provider", "gateway": GATEWAY_KEY}[kind]
    return {"Authorization": f"Bearer {key}", "Content-Type": content_type}


def median_rows(rounds: Sequence[Round]) -> list[Row]:
    """Per (target, endpoint, concurrency), the row of the round with the median req/s (the lower one of two)."""
    by_key: dict[tuple[str, str, int], list[Row]] = {}
    for r in rounds:
        for row in r.rows:
            by_key.setdefault((row.target, row.endpoint, row.concurrency), []).append(row)
    return [sorted(rows, key=lambda row: row.rps)[(len(rows) - 1) // 2] for rows in by_key.values()]


def _install(args: argparse.Namespace) -> Installed:
    litellm, litellm_note = (None, "disabled (--no-litellm)") if args.no_litellm else \
        ensure_litellm(REPO / "benchmarks" / ".litellm-venv")
    portkey, portkey_note = (None, "disabled (--no-portkey)") if args.no_portkey else \
        ensure_portkey(REPO / "benchmarks" / ".portkey")
    return Installed(litellm, litellm_note, portkey, portkey_note)


def profile_phase(args: argparse.Namespace, work: Path, gateway: Service, bodies: Bodies) -> str:
    """Top functions of the gateway under TTS and STT load at c32 (separate runs, so they do not skew the table)."""
    py_spy = ensure_py_spy()
    seconds = max(args.seconds, 8)
    sections = []
    for endpoint, (_, content_type) in bodies.items():
        name = f"profile-{endpoint}-c32"
        # warm up first (the pool's upstream connections have expired while other peers were measured)
        run_wrk(gateway.url + ENDPOINTS[endpoint], work / f"{endpoint}.body", _headers("gateway", content_type),
                connections=32, seconds=1, work=work, name=f"{name}-warmup", warmup=0)
        sampler = record(py_spy, gateway.proc.pid, seconds - 2, work / f"{name}.raw", native=args.profile_native)
        run_wrk(gateway.url + ENDPOINTS[endpoint], work / f"{endpoint}.body", _headers("gateway", content_type),
                connections=32, seconds=seconds, work=work, name=name, warmup=0)
        sampler.wait(60)
        folded = fold(work / f"{name}.raw")
        (work / f"{name}.txt").write_text(folded)
        how = "--gil --native" if args.profile_native else "--gil"
        sections.append(f"Gateway profile, {endpoint.upper()} c32 (py-spy {how}):\n{folded}")
    sections.append(render_prices({endpoint: work / f"profile-{endpoint}-c32.raw" for endpoint in bodies}))
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
    if (args.workers or args.scale_workers) and not supports_workers(REPO):
        print("benchmark: this gateway's `serve` has no --workers; run with --scale-workers 0 and no --workers",
              file=sys.stderr)
        return 2
    installed = _install(args)
    workers = args.workers
    scale = args.scale_workers if args.scale_workers and (workers or 1) == 1 else None
    meta["workers"] = workers or "default (1)"

    bodies = load_bodies()
    fake_port = free_port()
    with Service("fake", [sys.executable, "-m", "benchmarks.fake_provider", "--port", str(fake_port)],
                 port=fake_port, log=work / "fake.log", cwd=REPO) as fake:
        fake.wait_ready("/healthz", timeout=30)
        with compared_peers(REPO, work, fake, workers, installed) as (peers, notes):
            rounds = [run_round(REPO, work, peers, bodies, seconds=args.seconds, scale_workers=scale,
                                upload_requests=args.upload_requests, tag=f" (round {i + 1}/{args.repeat})")
                      for i in range(args.repeat)]
            for name in ("litellm", "portkey"):  # idle, but not while the gateway is profiled
                if name in peers:
                    peers[name].service.stop()
            folded = profile_phase(args, work, peers["gateway"].service, bodies) if args.profile or args.profile_native else ""
        print("benchmark: streaming and upload...", file=sys.stderr, flush=True)
        with start_gateway(REPO, fake.url + "/slow/v1", work / "gateway-slow.log", workers) as gateway:
            streaming = asyncio.run(stream_phase(args, fake, gateway))
            upload = asyncio.run(upload_phase(fake, gateway))

    rows = median_rows(rounds)
    targets = evaluate(rows, streaming, upload, notes["litellm"])
    verdicts = evaluate17(rounds, notes)
    text = (f"Issue 6 (the round with the median req/s per row):\n\n{render(rows, streaming, upload, targets)}\n"
            f"{render17(rounds, verdicts, notes)}")
    header = (f"{meta['date']} · {meta['machine']['nproc']} CPUs ({meta['machine']['cpu']}) · "
              f"{meta['machine']['ram_gb']} GB · load before start {meta['machine']['loadavg_at_start']} · "
              f"commit {meta['machine']['commit']} · workers: {meta['workers']} · rounds: {args.repeat} · "
              f"LiteLLM: {notes['litellm'] or 'ok'} · Portkey: {notes['portkey'] or 'ok'}")
    print(f"\n{header}\n\n{text}")
    if folded:
        print(folded)
    result = {"meta": meta, "notes": notes, "rounds": rounds, "load": rows, "streaming": streaming, "upload": upload,
              "targets": targets, "targets_issue17": verdicts, "profile": folded}
    (work / "last-run.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    (work / "last-run.md").write_text(f"{header}\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
