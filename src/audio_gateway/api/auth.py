"""Client authentication: `Authorization: Bearer <key>` against AUDIO_GATEWAY_API_KEYS.

Every configured key is compared in constant time (hmac.compare_digest, no early
exit), so response timing says nothing about which key or prefix was close. Both
sides are hashed first: compare_digest's time still depends on the lengths it is
given, and a digest's length says nothing about the key's.
"""

from __future__ import annotations

import hashlib
import hmac

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from ..errors import AuthenticationFailed
from ..settings import ClientKey

__all__ = ["require_api_key", "match_key", "client_key"]


def match_key(keys: tuple[ClientKey, ...], authorization: str) -> ClientKey | None:
    scheme, _, token = authorization.strip().partition(" ")
    candidate = hashlib.sha256(token.strip().encode()).digest()
    found = None
    for key in keys:
        if hmac.compare_digest(candidate, hashlib.sha256(key.secret.encode()).digest()):
            found = key
    return found if scheme.lower() == "bearer" else None


async def require_api_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    # async although it never awaits: Litestar runs a sync guard in a worker thread, a thread hop per request.
    keys = connection.app.state.settings.api_keys
    if not keys:
        return
    key = match_key(keys, connection.headers.get("authorization", ""))
    if key is None:
        raise AuthenticationFailed()
    connection.scope["state"]["client_key"] = key
    connection.scope["state"]["log"]["key"] = key.name


def client_key(connection: ASGIConnection) -> ClientKey | None:
    """The authenticated key (None when the gateway runs open on loopback)."""
    return connection.scope.get("state", {}).get("client_key")
