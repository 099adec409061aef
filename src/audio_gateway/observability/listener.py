"""`/metrics` alone, without a key, on a loopback port: `AUDIO_GATEWAY_METRICS_PORT`, `worker --metrics-port`.

Served by aiohttp's web server (aiohttp is already the provider transport) on the running event loop,
so a scrape can await the queue's job counts. Under `serve --workers N` the parent binds the socket
before forking, as it does the main one, and every worker accepts on it: any of them answers with the
sum over all.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

__all__ = ["metrics_listener", "bind_metrics_socket", "CONTENT_TYPE"]

log = logging.getLogger("audio_gateway")

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4   # what generate_latest writes
LOOPBACK = "127.0.0.1"


def bind_metrics_socket(port: int, host: str = LOOPBACK) -> socket.socket:
    """A listening socket for the metrics port, made before a fork so that every worker shares it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


@asynccontextmanager
async def metrics_listener(render: Callable[[], Awaitable[bytes]], *, sock: socket.socket | None = None,
                           port: int = 0, host: str = LOOPBACK) -> AsyncIterator[int]:
    """Serve GET /metrics until the block ends; yields the port it listens on."""
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=await render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    owned = sock is None
    listening = sock if sock is not None else bind_metrics_socket(port, host)
    try:
        site = web.SockSite(runner, listening)
        await site.start()
        host_, port_ = listening.getsockname()[:2]
        log.info("metrics without a key on http://%s:%d/metrics", host_, port_)
        yield port_
    finally:
        await runner.cleanup()
        if owned:
            listening.close()
