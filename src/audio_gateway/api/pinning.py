"""Each API request is served by the catalog generation current when it arrived, start to finish.

The middleware pins that generation for the whole response (a stream's last byte included) and hands
it to the handlers through the request's scope; a reload meanwhile changes nothing for this request,
and the adapters it uses stay open until it is over (`generations.py`).
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, Receive, Scope, Send

from ..gateway import Gateway
from ..generations import LiveGateway

__all__ = ["PinGenerationMiddleware", "gateway_of"]


class PinGenerationMiddleware:
    def __init__(self, app: ASGIApp, gateway: LiveGateway):
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self.gateway.pinned() as generation:
            scope["state"]["gateway"] = generation
            await self.app(scope, receive, send)


def gateway_of(connection: ASGIConnection) -> Gateway:
    """The generation this request is pinned to (the current one for a route outside /v1)."""
    pinned = connection.scope.get("state", {}).get("gateway")
    if pinned is not None:
        return pinned
    live: LiveGateway = connection.app.state.gateway
    return live.current
