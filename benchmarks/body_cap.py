"""`python -m benchmarks.body_cap`: what a 300 MB JSON body to POST /v1/jobs costs the gateway (issue 21, item 4).

Starts redis-server, moto S3 and `audio-gateway serve` on loopback (jobs on), then sends a 300 MB body
twice over a raw socket, once announcing its length and once chunked (no length), reading the answer
while sending. For each it prints the status, how much of the body the gateway let the client send before
answering and closing, the time taken, and the gateway's RSS before and after plus its peak (VmHWM,
reset before each send). `--src DIR` runs the gateway from another checkout's `src/` (e.g. the commit
before the fix) to compare. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import sys
import tempfile
import time
from pathlib import Path

from tests.support.services import MotoS3Server, RedisServer

from .procs import Service, free_port, reset_peak, tree_memory_kb

REPO = Path(__file__).resolve().parent.parent
KEY = "sk-body-cap-bench"
BUCKET = "body-cap-bench"
BODY_BYTES = 300 * 1000 * 1000
_CHUNK = 1024 * 1024


def _start_gateway(redis: RedisServer, s3: MotoS3Server, src: Path | None, log: Path) -> Service:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIO_GATEWAY_", "OPENAI_", "SILICONFLOW_", "AWS_"))}
    env.update(AUDIO_GATEWAY_API_KEYS=f"bench:{KEY}", AUDIO_GATEWAY_CATALOG=str(REPO / "catalog"),
               AUDIO_GATEWAY_SECRET_KEY="body-cap-benchmark-secret-0123456789abcdef",
               AUDIO_GATEWAY_QUEUE_URL=redis.url(0), AUDIO_GATEWAY_S3_BUCKET=BUCKET, AWS_ENDPOINT_URL=s3.url,
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
               OPENAI_API_KEY="", SILICONFLOW_API_KEY="")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    port = free_port()
    service = Service("gateway", [sys.executable, "-m", "audio_gateway.cli", "serve", "--port", str(port)],
                      port=port, log=log, env=env, cwd=REPO)
    service.wait_ready("/healthz", timeout=60)
    return service


def _send(port: int, *, chunked: bool) -> tuple[int, int, float]:
    """Send the body while reading; returns (status, body bytes sent, seconds to the answer)."""
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % BODY_BYTES
    head = (b"POST /v1/jobs HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + KEY.encode()
            + b"\r\nContent-Type: application/json\r\n" + framing + b"\r\n\r\n")
    chunk = b'{"model": "tts-1", "voice": "alloy", "input": "' + b"a" * (_CHUNK - 48)
    sent, answer = 0, b""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head)
        while sent < BODY_BYTES:
            if select.select([sock], [], [], 0)[0]:
                break
            piece = chunk[: BODY_BYTES - sent]
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except OSError:
                break  # the gateway answered and closed; the answer is waiting
            sent += len(piece)
        if chunked and sent >= BODY_BYTES:
            sock.sendall(b"0\r\n\r\n")
        while b"\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    status = int(answer.split(b" ", 2)[1]) if answer else 0
    return status, sent, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.body_cap", description=__doc__.split("\n")[0])
    parser.add_argument("--src", type=Path, default=None, help="run the gateway from this src/ (default: this checkout)")
    args = parser.parse_args(argv)
    redis, s3 = RedisServer(), MotoS3Server()
    s3.create_bucket(BUCKET)
    log = Path(tempfile.mkdtemp(prefix="body-cap-")) / "gateway.log"
    gateway = _start_gateway(redis, s3, args.src, log)
    try:
        pids = gateway.pids()
        print(f"gateway from {args.src or REPO / 'src'}; a {BODY_BYTES / 1e6:.0f} MB JSON body to POST /v1/jobs")
        print("| framing | status | body sent (MB) | seconds | RSS before (MiB) | RSS after (MiB) | peak (MiB) |")
        print("|---|---|---|---|---|---|---|")
        for chunked in (False, True):
            time.sleep(0.5)
            before = tree_memory_kb(pids)
            reset_peak(pids)
            status, sent, seconds = _send(gateway.port, chunked=chunked)
            time.sleep(0.5)
            after, peak = tree_memory_kb(pids), tree_memory_kb(pids, "VmHWM:")
            print(f"| {'chunked' if chunked else 'Content-Length'} | {status} | {sent / 1e6:.1f} | {seconds:.2f} | "
                  f"{before / 1024:.0f} | {after / 1024:.0f} | {peak / 1024:.0f} |")
    finally:
        gateway.stop()
        redis.stop()
        s3.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
