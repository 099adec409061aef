"""Per API request: the in-flight gauge and, when tracing is on, the request's span.

Pure ASGI, outermost in the app, so it wraps the whole response: a stream counts as in flight, and its
span lasts, until its last byte. Only `/v1/` requests are observed (probes and scrapes are not API
traffic), and the middleware is installed only when there is something to observe.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, Scope, Send

from .telemetry import Telemetry

__all__ = ["ObservabilityMiddleware"]


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, telemetry: Telemetry):
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        metrics, tracing = self.telemetry.metrics, self.telemetry.tracing
        if metrics is not None:
            metrics.inflight.inc()
        try:
            if tracing is None:
                await self.app(scope, receive, send)
            else:
                await tracing.serve(self.app, scope, receive, send)
        finally:
            if metrics is not None:
                metrics.inflight.dec()
