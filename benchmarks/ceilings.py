"""`python -m benchmarks.ceilings`: how fast can anything in Python answer in front of the fake?

Context for the gateway/direct targets. The same wrk load (TTS body, c32) as `python -m benchmarks`
hits servers that do less and less than the gateway, all on uvicorn + httptools + uvloop, one process:

- `asgi`: a raw ASGI callable answering 32 KiB from memory (the server's own ceiling);
- `litestar`: a bare Litestar handler streaming the same 32 KiB with `Stream` (the framework's ceiling);
- `proxy`: a bare Litestar handler relaying the fake's answer through aiohttp (the least any
  Litestar proxy does: no validation, routing, billing, logging or error mapping).

Prints req/s and each as a fraction of the fake served directly. Loopback only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import aiohttp
from litestar import Litestar, Request, get, post
from litestar.response import Stream

from . import payloads
from .load import run_wrk
from .procs import Service, free_port
from .system import ensure_wrk

REPO = Path(__file__).resolve().parent.parent
AUDIO = b"\xff" * (32 * 1024)
KINDS = ("asgi", "litestar", "proxy")


async def _asgi(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        while (await receive()).get("more_body"):
            pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"audio/mpeg"), (b"content-length", b"%d" % len(AUDIO))]})
    await send({"type": "http.response.body", "body": AUDIO})


def _litestar(upstream: str | None) -> Litestar:
    session: list[aiohttp.ClientSession] = []

    async def chunks(body: bytes):
        if upstream is None:
            yield AUDIO
            return
        async with session[0].post(upstream, data=body, headers={"Content-Type": "application/json",
                                                                 "Authorization": "Bearer sk-fake-provider"}) as r:
            async for chunk in r.content.iter_any():
                yield chunk

    @post("/v1/audio/speech", status_code=200)
    async def speech(request: Request) -> Stream:
        return Stream(chunks(await request.body()), media_type="audio/mpeg")

    @get("/healthz", sync_to_thread=False)
    def healthz() -> str:
        return "ok"

    async def start(_app) -> None:
        session.append(aiohttp.ClientSession())

    async def stop(_app) -> None:
        await session[0].close()

    return Litestar([speech, healthz], on_startup=[start], on_shutdown=[stop], logging_config=None)


def _serve(kind: str, port: int, upstream: str) -> None:
    import uvicorn

    app = _asgi if kind == "asgi" else _litestar(upstream if kind == "proxy" else None)
    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", loop="uvloop", access_log=False,
                log_level="warning")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ceilings", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    p.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--upstream", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.port, args.upstream)
        return 0
    ensure_wrk()
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    body = work / "tts.body"
    body.write_bytes(payloads.SPEECH_JSON)
    headers = {"Authorization": "Bearer sk-fake-provider", "Content-Type": "application/json"}
    fake_port = free_port()
    with Service("fake", [sys.executable, "-m", "benchmarks.fake_provider", "--port", str(fake_port)],
                 port=fake_port, log=work / "fake.log", cwd=REPO) as fake:
        fake.wait_ready("/healthz", timeout=30)
        rows = [("direct (the fake)", run_wrk(fake.url + "/v1/audio/speech", body, headers, connections=32,
                                               seconds=args.seconds, work=work, name="ceiling-direct").rps)]
        for kind in KINDS:
            port = free_port()
            argv = [sys.executable, "-m", "benchmarks.ceilings", "--serve", kind, "--port", str(port),
                    "--upstream", fake.url + "/v1/audio/speech"]
            with Service(kind, argv, port=port, log=work / f"ceiling-{kind}.log", cwd=REPO) as server:
                server.wait_ready("/healthz" if kind != "asgi" else "/", timeout=30)
                rows.append((kind, run_wrk(server.url + "/v1/audio/speech", body, headers, connections=32,
                                           seconds=args.seconds, work=work, name=f"ceiling-{kind}").rps))
    direct = rows[0][1]
    print("| server (TTS body, c32, one process) | req/s | of direct |\n|---|---:|---:|")
    for name, rps in rows:
        print(f"| {name} | {rps:,.0f} | {rps / direct:.3f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
