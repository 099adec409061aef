"""Client authentication: `Authorization: Bearer <key>` against AUDIO_GATEWAY_API_KEYS.

Every configured key is compared in constant time (hmac.compare_digest, no early
exit), so response timing says nothing about which key or prefix was close. Both
sides are hashed first: compare_digest's time still depends on the lengths it is
given, and a digest's length says nothing about the key's. The configured keys are
hashed once, at start-up.

The check is pure ASGI middleware on the `/v1` router rather than a Litestar guard:
Litestar copies the route handler for every guard call, a cost on every request.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar.connection import ASGIConnection

from ..errors import AuthenticationFailed
from ..settings import ClientKey

__all__ = ["KeyRing", "ApiKeyMiddleware", "client_key"]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class KeyRing:
    """The accepted keys with their digests. Empty means the gateway runs open (loopback only)."""

    def __init__(self, keys: tuple[ClientKey, ...]):
        self._entries = tuple((_digest(key.secret), key) for key in keys)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def match(self, authorization: str) -> ClientKey | None:
        scheme, _, token = authorization.strip().partition(" ")
        candidate = _digest(token.strip())
        found = None
        for digest, key in self._entries:
            if hmac.compare_digest(candidate, digest):
                found = key
        return found if scheme.lower() == "bearer" else None

    def listed(self) -> tuple[ClientKey, ...]:
        return tuple(key for _, key in self._entries)

    def named(self, name: str) -> ClientKey | None:
        """The key called `name`, an admin one first (the console re-checks its session's key on every request)."""
        found = [key for _, key in self._entries if key.name == name]
        return max(found, key=lambda key: key.admin, default=None)


class ApiKeyMiddleware:
    def __init__(self, app: Any, keys: KeyRing):
        self.app = app
        self.keys = keys

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.keys:
            authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            key = self.keys.match(authorization.decode("latin-1"))
            if key is None:
                raise AuthenticationFailed()
            scope["state"]["client_key"] = key
            scope["state"]["log"]["key"] = key.name
        await self.app(scope, receive, send)


def client_key(connection: ASGIConnection) -> ClientKey | None:
    """The authenticated key (None when the gateway runs open on loopback)."""
    return connection.scope.get("state", {}).get("client_key")
