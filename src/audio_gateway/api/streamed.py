"""A streamed 200 answer as a plain ASGI app: what Litestar's `Stream` does, without its per-response machinery.

Why: at TTS c32, `Stream` → `ASGIStreamingResponse` ran an anyio task group per response (a task for
the body, a disconnect listener, cancel scopes, `current_task` look-ups) and encoded the headers again;
it was the largest framework cost of a speech request (benchmarks/PROFILE-NOTES.md). A handler returns
this object instead (annotated `ASGIApp`, which Litestar calls as is), so routing, middleware, the
exception handlers and the OpenAPI document stay Litestar's.

The disconnect watch is one `receive()` task, made once the first chunk is out: when the client goes
away mid-stream it cancels the request's task, which closes the body iterator where it waits (its
`finally` sees the disconnect, as with `Stream`), and the cancellation is absorbed here. A cancellation
from anywhere else propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

__all__ = ["StreamedBody"]


def _content_type(media_type: str) -> bytes:
    """As Litestar sends it: text types carry their charset."""
    if media_type.startswith("text/") and "charset=" not in media_type:
        media_type += "; charset=utf-8"
    return media_type.encode("latin-1")


class StreamedBody:
    """ASGI app: status 200 with `headers`, then each chunk of `body` as it comes (chunked transfer)."""

    __slots__ = ("_body", "_headers", "_gone")

    def __init__(self, body: AsyncIterator[bytes], *, media_type: str, headers: Mapping[str, str]):
        self._body = body
        self._headers = [(b"content-type", _content_type(media_type)),
                         *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())]
        self._gone = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self._headers})
        task = asyncio.current_task()
        watch: asyncio.Task[Any] | None = None
        done = False

        def message(finished: asyncio.Task[Any]) -> None:
            nonlocal watch
            if done or finished.cancelled() or finished.exception() is not None:
                return
            if finished.result().get("type") == "http.disconnect":
                self._gone = True
                assert task is not None
                task.cancel()
            else:  # not the end of this connection (the body was read): keep listening
                watch = asyncio.ensure_future(receive())
                watch.add_done_callback(message)

        try:
            async for chunk in self._body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if watch is None:
                    watch = asyncio.ensure_future(receive())
                    watch.add_done_callback(message)
            done = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self._gone or task is None:
                raise
            task.uncancel()  # ours: the client went away
            aclose = getattr(self._body, "aclose", None)
            if aclose is not None:  # cancelled in `send`, the body was left at a `yield`: its `finally` runs now
                await aclose()
        finally:
            done = True
            if watch is not None and not watch.done():
                watch.cancel()
