"""Signing in and out: `POST /console/session` trades an admin key for the session cookie; `DELETE` ends it.

The key is sent once, in a JSON body (a cross-site HTML form cannot send `application/json`, so no other
site can sign a browser in under its own key), and never stored: the cookie carries the key's name and
fingerprint only. The answer gives the CSRF token the page sends with every change it makes.
"""

from __future__ import annotations

import time

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.datastructures import Cookie

from ..api.auth import KeyRing
from ..api.errors import decode_json_body, json_response
from ..errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from .guard import console_user
from .session import COOKIE_NAME, Session, SessionCodec

__all__ = ["sign_in", "sign_out", "who_am_i"]


class SignIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key: str = ""


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.console_codec
    return codec


def _session_body(request: Request, name: str | None, session: Session | None) -> dict:
    return {"object": "console.session", "key": name, "open_mode": not request.app.state.key_ring,
            "csrf_token": _codec(request).csrf_token(session) if session is not None else None,
            "expires_at": session.expires if session is not None else None}


def _cookie(value: str, max_age: int) -> Cookie:
    # Secure always: browsers keep Secure cookies from http://localhost and 127.0.0.1 too (trustworthy origins).
    return Cookie(key=COOKIE_NAME, value=value, path="/", httponly=True, secure=True, samesite="strict",
                  max_age=max_age)


@post("/session", status_code=200)
async def sign_in(request: Request) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise InvalidRequest("Send the key as JSON: {\"key\": \"sk-...\"}.", code="invalid_content_type")
    body: SignIn = decode_json_body(await request.body(), SignIn)
    keys: KeyRing = request.app.state.key_ring
    key = keys.match(f"Bearer {body.key}") if keys else None
    if keys and key is None:
        raise AuthenticationFailed("That is not a key this gateway knows.")
    if key is not None and not key.admin:
        raise PermissionDenied("The console needs an admin key (AUDIO_GATEWAY_ADMIN_KEYS); this one is a client key.",
                               code="admin_key_required")
    value, session = _codec(request).issue(key.name if key else None, key.secret if key else "", now=int(time.time()))
    response = json_response(_session_body(request, session.key, session))
    response.set_cookie(_cookie(value, session.expires - int(time.time())))
    return response


@delete("/session", status_code=200)
async def sign_out(request: Request) -> Response:
    response = json_response({"object": "console.session", "signed_out": True})
    response.set_cookie(_cookie("", 0))
    return response


@get("/api/session")
async def who_am_i(request: Request) -> Response:
    user = console_user(request.scope)
    return json_response(_session_body(request, user.name, user.session))
