"""`python -m benchmarks.instructions`: the gateway's instructions per request under callgrind, TTS and STT.

Wall-clock req/s on a shared 2-core machine moves with whatever else runs; instructions executed do
not. One `audio-gateway serve` (one process, as `make bench` runs it: client keys, INFO access log,
the SQLite ledger) runs under valgrind's callgrind behind the fast fake provider. Each phase sends a
warm-up, zeroes the counters, sends N requests over keep-alive connections (TTS c32, STT c8, c4 for 100 s) and
dumps: instructions per request for TTS (the 32 KiB speech body) and STT with 1 s, 10 s and 100 s
WAVs, and for STT the instructions per uploaded MB between sizes (the per-byte part; flat means it
does not grow). The garbage collector, logging and the ledger writer are all counted, as they run.
Instructions weigh every instruction the same (a cache miss or a system call's kernel time is not
counted), so they price Python-level work, which is what the issue 17 changes remove.
`--src DIR` runs another checkout's gateway (its `src/`) for a before/after in one go.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec

from . import payloads
from .gateway_proc import GATEWAY_KEY
from .procs import Service, free_port
from .upload_cost import send_fixed

REPO = Path(__file__).resolve().parent.parent
_DROP = ("AUDIO_GATEWAY_", "OPENAI_", "SILICONFLOW_", "AWS_", "OTEL_", "PROMETHEUS_")
_MB = 1e6


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1000, help="measured TTS requests (default 1000)")
    p.add_argument("--stt-requests", type=int, default=400, help="measured STT requests per size (default 400)")
    p.add_argument("--sizes", default="1,10,100", help="STT WAV seconds, comma-separated (default 1,10,100)")
    p.add_argument("--only", choices=("tts", "stt"), help="one kind only")
    p.add_argument("--src", type=Path, help="another checkout whose src/ to run (PYTHONPATH)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    return p.parse_args(argv)


def _gateway(upstream: str, work: Path, callgrind_out: Path, src: Path | None) -> Service:
    data = work / "instructions-data"
    shutil.rmtree(data, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env.update(OPENAI_BASE_URL=upstream, OPENAI_API_KEY="sk-fake-provider", SILICONFLOW_API_KEY="",
               AUDIO_GATEWAY_API_KEYS=f"bench:{GATEWAY_KEY}", AUDIO_GATEWAY_CATALOG=str(REPO / "catalog"),
               AUDIO_GATEWAY_DATA_DIR=str(data), AUDIO_GATEWAY_LOCAL="off")
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve() / "src")
    port = free_port()
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind_out}", sys.executable,
            "-m", "audio_gateway.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    service = Service("gateway-callgrind", argv, port=port, log=work / "instructions-gateway.log", env=env, cwd=REPO)
    service.wait_ready("/healthz", timeout=900)
    return service


def _count(service: Service, out: Path, send) -> int:
    """Instructions the gateway executes during `send()` (counters zeroed before, dumped after)."""
    before = set(glob.glob(f"{out}.*"))
    subprocess.run(["callgrind_control", "-z", str(service.proc.pid)], check=True, capture_output=True)
    send()
    subprocess.run(["callgrind_control", "-d", str(service.proc.pid)], check=True, capture_output=True)
    for dump in sorted(set(glob.glob(f"{out}.*")) - before, key=os.path.getmtime, reverse=True):
        text = Path(dump).read_text(errors="replace")
        if "Trigger: dump" in text and (found := re.search(r"^summary:\s+(\d+)", text, re.M)):
            return int(found.group(1))
    raise RuntimeError(f"no callgrind dump beside {out}")


def _check(statuses, expected: int) -> None:
    if statuses.get("200", 0) != expected:
        raise RuntimeError(f"non-200 answers: {dict(statuses)}")


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    out = work / "callgrind-instructions.out"
    for old in glob.glob(f"{out}*"):
        os.remove(old)
    result: dict[str, object] = {"src": str(args.src or REPO)}
    fake_port = free_port()
    with Service("fake", [sys.executable, "-m", "benchmarks.fake_provider", "--port", str(fake_port)],
                 port=fake_port, log=work / "instructions-fake.log", cwd=REPO) as fake:
        fake.wait_ready("/healthz", timeout=30)
        print("benchmark: starting the gateway under callgrind (a minute or two)...", file=sys.stderr, flush=True)
        service = _gateway(fake.url + "/v1", work, out, args.src)
        auth = {"Authorization": f"Bearer {GATEWAY_KEY}"}
        try:
            if args.only in (None, "tts"):
                tts = {**auth, "Content-Type": "application/json"}

                def speech(n: int) -> None:
                    _check(asyncio.run(send_fixed(service.port, "/v1/audio/speech", tts, payloads.SPEECH_JSON,
                                                  requests=n, connections=32)), n)

                speech(300)
                total = _count(service, out, lambda: speech(args.requests))
                result["tts"] = total // args.requests
                print(f"TTS: {total // args.requests:,} instructions per request", file=sys.stderr, flush=True)
            if args.only in (None, "stt"):
                stt: dict[str, dict[str, float]] = {}
                for seconds in (int(s) for s in args.sizes.split(",")):
                    body, content_type = payloads.multipart({"model": "whisper-1"}, f"{seconds}s.wav",
                                                            payloads.wav(seconds))
                    headers = {**auth, "Content-Type": content_type}
                    n = args.stt_requests if seconds <= 10 else max(50, args.stt_requests // 4)
                    # STT at c8/c4: under callgrind 32 uploads at once outlast the provider's 30 s first-byte deadline
                    connections = 8 if seconds <= 10 else 4

                    def upload(count: int, body: bytes = body, headers: dict[str, str] = headers,
                               connections: int = connections) -> None:
                        _check(asyncio.run(send_fixed(service.port, "/v1/audio/transcriptions", headers, body,
                                                      requests=count, connections=connections)), count)

                    upload(50)
                    total = _count(service, out, lambda n=n, upload=upload: upload(n))
                    stt[f"{seconds}s"] = {"bytes": len(body), "per_request": total // n,
                                          "per_mb": round(total / (n * len(body) / _MB))}
                    print(f"STT {seconds} s ({len(body):,} B): {total // n:,} instructions per request, "
                          f"{stt[f'{seconds}s']['per_mb']:,} per MB", file=sys.stderr, flush=True)
                sizes = list(stt.values())
                for a, b in zip(sizes, sizes[1:], strict=False):
                    marginal = (b["per_request"] - a["per_request"]) / ((b["bytes"] - a["bytes"]) / _MB)
                    print(f"STT per-byte part {a['bytes']:,} → {b['bytes']:,} B: {marginal:,.0f} instructions per MB",
                          file=sys.stderr)
                result["stt"] = stt
        finally:
            service.stop()
    (work / "instructions.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    print(msgspec.json.format(msgspec.json.encode(result)).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
