"""Client authentication: `Authorization: Bearer <key>` against environment keys and database keys.

Environment keys (AUDIO_GATEWAY_API_KEYS / _ADMIN_KEYS) are compared in constant time
(hmac.compare_digest, no early exit), so response timing says nothing about which key or prefix was
close. Both sides are hashed first: compare_digest's time still depends on the lengths it is given,
and a digest's length says nothing about the key's. Database keys (keys/) are found by their SHA-256
digest in a dict: the look-up's timing depends only on the digest of what the client sent, which says
nothing about any stored secret, and it stays one look-up however many keys there are.

The check is pure ASGI middleware on the `/v1` router rather than a Litestar guard:
Litestar copies the route handler for every guard call, a cost on every request. A key with limits
goes on through `limited_call` (api/admission.py): its headers, and its reservation settled at the end.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection

from ..errors import AuthenticationFailed
from ..settings import ClientKey
from .admission import limited_call

if TYPE_CHECKING:
    from ..keys.cache import KeyCache
    from ..limits.guard import Limiter

__all__ = ["KeyRing", "ApiKeyMiddleware", "client_key"]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class KeyRing:
    """The accepted keys. Empty (no environment key, no database key) means the gateway runs open (loopback only).

    The database keys and the limiter arrive when the app's lifespan has opened the database (`attach`)."""

    def __init__(self, keys: tuple[ClientKey, ...]):
        self._entries = tuple((_digest(key.secret), key) for key in keys)
        self.cache: KeyCache | None = None
        self.limiter: Limiter | None = None

    def __deepcopy__(self, memo: dict) -> KeyRing:
        """One ring per app: Litestar deep-copies routers (and their middleware arguments), and the
        database keys attached at start-up must reach the copy that serves requests."""
        return self

    def attach(self, cache: KeyCache | None, limiter: Limiter | None) -> None:
        self.cache, self.limiter = cache, limiter

    def __bool__(self) -> bool:
        return bool(self._entries) or bool(self.cache)

    @property
    def env_names(self) -> frozenset[str]:
        return frozenset(key.name for _, key in self._entries)

    def match(self, authorization: str) -> ClientKey | None:
        scheme, _, token = authorization.strip().partition(" ")
        candidate = _digest(token.strip())
        found = None
        for digest, key in self._entries:
            if hmac.compare_digest(candidate, digest):
                found = key
        if found is None and self.cache is not None:
            found = self.cache.lookup(candidate)
        return found if scheme.lower() == "bearer" else None

    def listed(self) -> tuple[ClientKey, ...]:
        """Environment keys, then database keys."""
        return tuple(key for _, key in self._entries) + (self.cache.keys() if self.cache is not None else ())

    def named(self, name: str) -> ClientKey | None:
        """The key called `name`, an admin one first (the console re-checks its session's key on every request)."""
        found = [key for _, key in self._entries if key.name == name]
        if not found and self.cache is not None:
            found = [key for key in [self.cache.named(name)] if key is not None]
        return max(found, key=lambda key: key.admin, default=None)


class ApiKeyMiddleware:
    def __init__(self, app: Any, keys: KeyRing):
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.keys:
            authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            key = self.keys.match(authorization.decode("latin-1"))
            if key is None:
                raise AuthenticationFailed()
            scope["state"]["client_key"] = key
            scope["state"]["log"]["key"] = key.name
            limits = key.limits
            if limits is not None and self.keys.limiter is not None and (limits.budgeted or limits.rate_limited):
                await limited_call(self.app, scope, receive, send, self.keys.limiter, key)
                return
        await self.app(scope, receive, send)


def client_key(connection: ASGIConnection) -> ClientKey | None:
    """The authenticated key (None when the gateway runs open on loopback)."""
    return connection.scope.get("state", {}).get("client_key")
