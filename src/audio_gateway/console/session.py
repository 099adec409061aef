"""Console sessions: a signed, expiring cookie value naming an admin key, and the CSRF token bound to it (pure).

The cookie holds no secret of the key: its name and a fingerprint (an HMAC of the key's secret), so a
session dies with its key — a key removed, demoted or given a new secret no longer matches — without any
server-side session table that replicas would have to share. The signature and the CSRF token are HMACs
under the server's own secret (`server_secret.py`) with purposes of their own, so neither is ever valid
as the other, nor as an owner id. The CSRF token is derived from the session's random nonce: a page that
read it can send it back in `x-csrf-token`; another site can neither read nor compute it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets

import msgspec

from ..server_secret import ServerSecret

__all__ = ["Session", "SessionCodec", "COOKIE_NAME", "CSRF_HEADER", "SESSION_SECONDS"]

# `__Host-`: the browser keeps it only if Secure, Path=/ and host-only (no Domain), so no sibling host sets it.
COOKIE_NAME = "__Host-ag-console"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 8 * 3600


class Session(msgspec.Struct, frozen=True, kw_only=True):
    key: str | None          # the admin key's name; None in open (keyless, loopback-only) mode
    fingerprint: str         # HMAC of the key's secret: the session ends when the key changes
    nonce: str               # random per sign-in; the CSRF token is derived from it
    expires: int             # Unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Issues and checks session values and CSRF tokens under one server secret."""

    def __init__(self, secret: ServerSecret):
        self._secret = secret

    def fingerprint(self, key_secret: str) -> str:
        return self._secret.derive("console-key", key_secret)[:32]

    def issue(self, key: str | None, key_secret: str, *, now: int, lifetime: int = SESSION_SECONDS) -> tuple[str, Session]:
        session = Session(key=key, fingerprint=self.fingerprint(key_secret), nonce=secrets.token_urlsafe(18),
                          expires=now + lifetime)
        payload = _b64(msgspec.json.encode(session))
        return f"{payload}.{self._secret.derive('console-session', payload)}", session

    def read(self, value: str, *, now: int) -> Session | None:
        """The session a cookie value carries, or None if it is forged, malformed or expired."""
        payload, _, signature = value.partition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._secret.derive("console-session", payload).encode()):
            return None
        try:
            session = msgspec.json.decode(_unb64(payload), type=Session)
        except (binascii.Error, ValueError, msgspec.DecodeError):
            return None
        return session if session.expires > now else None

    def csrf_token(self, session: Session) -> str:
        return self._secret.derive("console-csrf", session.nonce)

    def csrf_ok(self, session: Session, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf_token(session).encode())
