"""One provider's HTTP endpoint, fixed at start-up: pooled transport, base URL, key and timeouts.

Requests are httpx `Request`s handed straight to the transport. `httpx.AsyncClient` would add
URL merging, a cookie jar, redirect and auth flows and event hooks on every call, none of which
a fixed upstream uses, and under load they were about 14 % of the gateway's CPU
(benchmarks/RESULTS.md). What the client did that matters is done here once: absolute URLs,
the provider's auth header (`auth.py`), and the `timeout` extension the transport reads (with the
URL already parsed as aiohttp takes it, once per path, not once per request). When
a span is current (tracing on: the routing attempt's), the request carries its W3C `traceparent`.
"""

from __future__ import annotations

from typing import Any

import httpx
from yarl import URL

from ..catalog.model import Provider
from ..observability.propagation import add_trace_headers
from .aiohttp_transport import AIOHTTP_URL, AiohttpTransport
from .auth import auth_headers

__all__ = ["Upstream"]


class Upstream:
    def __init__(self, provider: Provider):
        t = provider.timeouts
        self.provider = provider
        self._base = provider.base_url.rstrip("/") + "/"
        self._urls: dict[str, tuple[httpx.URL, URL]] = {}
        self._auth = auth_headers(provider)
        self._timeout = {"connect": t.connect_seconds, "read": t.read_seconds, "write": t.read_seconds,
                         "pool": t.connect_seconds}
        self._transport = AiohttpTransport(provider.max_connections)

    def url(self, path: str) -> httpx.URL:
        """Absolute URL for a provider-relative path, parsed once per path."""
        return self._parsed(path)[0]

    def _parsed(self, path: str) -> tuple[httpx.URL, URL]:
        """The URL as httpx and as aiohttp take it, each parsed once per path."""
        urls = self._urls.get(path)
        if urls is None:
            url = httpx.URL(self._base + path.lstrip("/"))
            urls = self._urls[path] = (url, URL(str(url), encoded=True))
        return urls

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **body: Any) -> httpx.Request:
        """`body` is httpx's: `content=`, or `data=` with `files=` for multipart."""
        sent = {**self._auth, **(headers or {})}
        add_trace_headers(sent)
        url, parsed = self._parsed(path)
        return httpx.Request(method, url, headers=sent, extensions={"timeout": self._timeout, AIOHTTP_URL: parsed},
                             **body)

    async def send(self, request: httpx.Request) -> httpx.Response:
        """The response with its body unread: the caller streams it, or `aread()`s it, and closes it."""
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._transport.aclose()
