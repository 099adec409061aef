"""A request body that stalls gets 408, not a handler parked forever on `receive()`.

Pure ASGI middleware: each wait for the next body chunk is bounded by the client timeout.
Once the body is complete `receive()` is passed through untouched, because streaming
responses keep waiting on it for `http.disconnect` for as long as they run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import RequestTimeout

__all__ = ["ClientTimeoutMiddleware"]


class ClientTimeoutMiddleware:
    def __init__(self, app: Any, timeout: float):
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False

        async def bounded_receive() -> dict:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(f"The request body stalled for {self.timeout:g} s.", code="client_timeout") from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, bounded_receive, send)
