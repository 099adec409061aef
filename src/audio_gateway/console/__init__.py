"""The operator console at `/console`: a static page app over the gateway's own JSON (see README "Console").

A shell page and plain ES modules shipped as package data (`static/`), with uPlot vendored from npm:
nothing is built or fetched at run time, and the pages only call `/console/api/...`, so the console
works on a machine with no internet and its data is exactly what the API answers.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.middleware import DefineMiddleware
from litestar.static_files import create_static_files_router

from ..api.auth import KeyRing
from ..server_secret import ServerSecret
from .api import catalog_data, options_data, overview_data, providers_data, request_data, requests_data
from .guard import ConsoleGuard, SecurityHeaders
from .keys import CONSOLE_KEY_ROUTES
from .login import sign_in, sign_out, who_am_i
from .session import SessionCodec

__all__ = ["console_router", "session_codec", "STATIC_DIR"]

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger("audio_gateway.console")


def session_codec(secret: ServerSecret | None) -> SessionCodec:
    """Sessions signed with the server's secret; without one (an app built without settings from the
    environment) a secret for this process only, so sessions end when it does — said in the log."""
    if secret is None:
        log.warning("no server secret (AUDIO_GATEWAY_SECRET_KEY) given: console sessions are signed with a key "
                    "made for this process and end when it exits")
        secret = ServerSecret(secrets.token_urlsafe(32), origin="generated for this process", created=True)
    return SessionCodec(secret)


@get(["/", ""], include_in_schema=False)
async def shell() -> Response:
    return Response((STATIC_DIR / "index.html").read_bytes(), media_type="text/html")


def console_router(keys: KeyRing, codec: SessionCodec) -> Router:
    static = create_static_files_router(path="/static", directories=[STATIC_DIR], name="console-static",
                                        cache_control=CacheControlHeader(no_cache=True))
    return Router(
        path="/console",
        middleware=[DefineMiddleware(SecurityHeaders), DefineMiddleware(ConsoleGuard, keys=keys, codec=codec)],
        route_handlers=[shell, sign_in, sign_out, who_am_i, overview_data, providers_data, requests_data,
                        request_data, catalog_data, options_data, *CONSOLE_KEY_ROUTES, static],
        include_in_schema=False,
    )
