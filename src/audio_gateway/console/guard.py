"""Who may use the console, and the headers every console response carries (ASGI middleware).

A console request is let in by either
- the session cookie (`session.py`), whose key must still be an admin key with the same secret; a
  mutation (any method but GET/HEAD) must also carry the session's CSRF token in `x-csrf-token`, and an
  `Origin`, when the browser sends one, must be this host; or
- `Authorization: Bearer <admin key>`, for scripts: no ambient credential, so no CSRF token is needed.
With no client keys configured (open, loopback-only mode) the console is open too, as /v1 is.

Responses get a Content-Security-Policy that allows scripts, styles and fetches from this origin only
(no inline script, no eval), and are never framed or cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ..api.auth import KeyRing
from ..errors import AuthenticationFailed, PermissionDenied
from ..settings import ClientKey
from .session import COOKIE_NAME, CSRF_HEADER, Session, SessionCodec

__all__ = ["ConsoleGuard", "SecurityHeaders", "CSP", "ConsoleUser", "console_user", "admin_for_session",
           "same_origin"]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin")]
_SAFE_METHODS = frozenset({"GET", "HEAD"})
# Reachable without a session: the page shell and its files (they hold no data), and signing in.
SHELL_PATHS = frozenset({"/console", "/console/"})
STATIC_PREFIX = "/console/static/"
LOGIN_PATH = "/console/session"


class ConsoleUser:
    """The admin behind a console request (`key` None in open mode), and its session when it came by cookie."""

    __slots__ = ("key", "session")

    def __init__(self, key: ClientKey | None, session: Session | None):
        self.key = key
        self.session = session

    @property
    def name(self) -> str | None:
        return self.key.name if self.key is not None else None


def console_user(scope: Any) -> ConsoleUser:
    user: ConsoleUser = scope["state"]["console_user"]
    return user


def admin_for_session(session: Session, keys: KeyRing, codec: SessionCodec) -> tuple[bool, ClientKey | None]:
    """(still valid, the admin key it stands for — None for an open-mode session)."""
    if session.key is None:
        return not keys, None
    key = keys.named(session.key)
    if key is None or not key.admin or codec.fingerprint(key.secret) != session.fingerprint:
        return False, None
    return True, key


def _header(scope: Scope, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), "")


def _cookie(scope: Scope) -> str:
    raw = _header(scope, b"cookie")
    if not raw:
        return ""
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return ""
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel is not None else ""


def _is_public(path: str, method: str) -> bool:
    if path == LOGIN_PATH:
        return method == "POST"
    return path in SHELL_PATHS or path.startswith(STATIC_PREFIX)


def same_origin(scope: Scope) -> bool:
    """No Origin (not a browser's cross-site request), or an Origin naming this very host: the Host header,
    or the X-Forwarded-Host a proxy in front sets (a page of another site cannot send that header: it is
    not one a cross-origin request may carry without a CORS preflight, which the console never grants)."""
    origin = _header(scope, b"origin")
    if not origin:
        return True
    hosts = {_header(scope, b"host"), _header(scope, b"x-forwarded-host").split(",")[0].strip()} - {""}
    return urlsplit(origin).netloc in hosts


class ConsoleGuard:
    def __init__(self, app: ASGIApp, keys: KeyRing, codec: SessionCodec, clock: Callable[[], float] = time.time):
        self.app = app
        self.keys = keys
        self.codec = codec
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = str(scope.get("method", "GET"))
            if method not in _SAFE_METHODS and not same_origin(scope):
                raise PermissionDenied("Cross-origin console requests are refused.", code="cross_origin")
            if not _is_public(scope["path"], method):
                user = self._authenticate(scope, method)
                scope["state"]["console_user"] = user
                scope["state"]["client_key"] = user.key   # what shared handlers (the key API) check
                log = scope["state"].get("log")
                if isinstance(log, dict) and user.name:
                    log["key"] = user.name
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope, method: str) -> ConsoleUser:
        authorization = _header(scope, b"authorization")
        if authorization:
            key = self.keys.match(authorization) if self.keys else None
            if self.keys and key is None:
                raise AuthenticationFailed()
            if key is not None and not key.admin:
                raise PermissionDenied("The console needs an admin key (AUDIO_GATEWAY_ADMIN_KEYS).",
                                       code="admin_key_required")
            return ConsoleUser(key, None)
        session = self.codec.read(_cookie(scope), now=int(self.clock()))
        if session is None:
            if not self.keys and method in _SAFE_METHODS:
                return ConsoleUser(None, None)     # open mode reads freely; changes still need a session's token
            if not self.keys:
                raise PermissionDenied(f"Console changes need a session (POST /console/session) and its CSRF token "
                                       f"in `{CSRF_HEADER}`.", code="csrf_token_invalid")
            raise AuthenticationFailed("Sign in to the console first (POST /console/session with an admin key).")
        valid, key = admin_for_session(session, self.keys, self.codec)
        if not valid:
            raise AuthenticationFailed("This console session's key is no longer an admin key; sign in again.")
        if method not in _SAFE_METHODS and not self.codec.csrf_ok(session, _header(scope, CSRF_HEADER.encode())):
            raise PermissionDenied(f"Console changes need the session's CSRF token in `{CSRF_HEADER}`.",
                                   code="csrf_token_invalid")
        return ConsoleUser(key, session)


class SecurityHeaders:
    """Adds the CSP and its companions to every console response; API answers are never cached."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(STATIC_PREFIX)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control" or static]
                headers.extend(_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
