"""One provider's HTTP endpoint, fixed at start-up: pooled transport, base URL, key and timeouts.

Requests are httpx `Request`s handed straight to the transport. `httpx.AsyncClient` would add
URL merging, a cookie jar, redirect and auth flows and event hooks on every call, none of which
a fixed upstream uses, and under load they were about 14 % of the gateway's CPU
(benchmarks/RESULTS.md). What the client did that matters is done here once: absolute URLs,
the provider's auth header (`auth.py`), and the `timeout` extension the transport reads. When
a span is current (tracing on: the routing attempt's), the request carries its W3C `traceparent`.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..catalog.model import Provider
from ..observability.propagation import add_trace_headers
from .aiohttp_transport import AiohttpTransport
from .auth import auth_headers

__all__ = ["Upstream"]


class Upstream:
    def __init__(self, provider: Provider):
        t = provider.timeouts
        self.provider = provider
        self._base = provider.base_url.rstrip("/") + "/"
        self._urls: dict[str, httpx.URL] = {}
        self._auth = auth_headers(provider)
        self._timeout = {"connect": t.connect_seconds, "read": t.read_seconds, "write": t.read_seconds,
                         "pool": t.connect_seconds}
        self._transport = AiohttpTransport(provider.max_connections)

    def url(self, path: str) -> httpx.URL:
        """Absolute URL for a provider-relative path, parsed once per path."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base + path.lstrip("/"))
        return url

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **body: Any) -> httpx.Request:
        """`body` is httpx's: `content=`, or `data=` with `files=` for multipart."""
        sent = {**self._auth, **(headers or {})}
        add_trace_headers(sent)
        return httpx.Request(method, self.url(path), headers=sent, extensions={"timeout": self._timeout}, **body)

    async def send(self, request: httpx.Request) -> httpx.Response:
        """The response with its body unread: the caller streams it, or `aread()`s it, and closes it."""
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._transport.aclose()
