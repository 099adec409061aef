"""A streamed 200 answer as a plain ASGI app: what Litestar's `Stream` does, without its per-response machinery.

Why: at TTS c32, `Stream` → `ASGIStreamingResponse` ran an anyio task group per response (a task for
the body, a disconnect listener, cancel scopes, `current_task` look-ups) and encoded the headers again;
it was the largest framework cost of a speech request (benchmarks/PROFILE-NOTES.md). A handler returns
this object instead (annotated `ASGIApp`, which Litestar calls as is), so routing, middleware, the
exception handlers and the OpenAPI document stay Litestar's.

The disconnect watch is one `receive()` task, made once the first chunk is out: when the client goes
away mid-stream it cancels the request's task, which closes the body iterator where it waits (its
`finally` sees the disconnect, as with `Stream`), and the cancellation is absorbed here. A cancellation
from anywhere else propagates. When the answer is complete the watch is left to end by itself (uvicorn
answers a `receive()` after the response with `http.disconnect` at once) rather than cancelled: a
cancelled watch left a CancelledError, its traceback and frames, the task and the callback's closure in
a reference cycle per request, about 37 objects that only the collector could free.
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


def _settled(watch: asyncio.Future[Any]) -> None:
    """Collect a finished wait's outcome, so an error in it is not reported as never retrieved."""
    if not watch.cancelled():
        watch.exception()


class _DisconnectWatch:
    """One `receive()` at a time while the body streams; cancels the streaming task if the client goes away.

    A small object with a bound-method callback rather than a closure: a closure that re-arms itself holds
    its own cell, which made every response a reference cycle only the collector could free."""

    __slots__ = ("_receive", "_task", "_wait", "_over", "gone")

    def __init__(self, receive: Any, task: asyncio.Task[Any]):
        self._receive = receive
        self._task = task
        self._wait: asyncio.Future[Any] | None = None
        self._over = False
        self.gone = False

    @property
    def started(self) -> bool:
        return self._wait is not None

    def start(self) -> None:
        self._wait = asyncio.ensure_future(self._receive())
        self._wait.add_done_callback(self._message)

    def _message(self, finished: asyncio.Future[Any]) -> None:
        if self._over or finished.cancelled() or finished.exception() is not None:
            return
        if finished.result().get("type") == "http.disconnect":
            self.gone = True
            self._task.cancel()
        else:  # not the end of this connection (the body was read): keep listening
            self.start()

    def end(self, *, complete: bool) -> None:
        """The answer is over. A complete one leaves the wait to end by itself (uvicorn answers a receive()
        after the response at once, with http.disconnect); a cut-short one cancels it."""
        self._over = True
        wait = self._wait
        if wait is None or wait.done():
            return
        wait.remove_done_callback(self._message)
        if complete:
            wait.add_done_callback(_settled)
        else:
            wait.cancel()


class StreamedBody:
    """ASGI app: status 200 with `headers`, then each chunk of `body` as it comes (chunked transfer)."""

    __slots__ = ("_body", "_headers")

    def __init__(self, body: AsyncIterator[bytes], *, media_type: str, headers: Mapping[str, str]):
        self._body = body
        self._headers = [(b"content-type", _content_type(media_type)),
                         *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self._headers})
        task = asyncio.current_task()
        assert task is not None
        watch = _DisconnectWatch(receive, task)
        complete = False
        try:
            async for chunk in self._body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if not watch.started:
                    watch.start()
            watch.end(complete=True)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            complete = True
        except asyncio.CancelledError:
            if not watch.gone:
                raise
            task.uncancel()  # ours: the client went away
            aclose = getattr(self._body, "aclose", None)
            if aclose is not None:  # cancelled in `send`, the body was left at a `yield`: its `finally` runs now
                await aclose()
        finally:
            watch.end(complete=complete)
