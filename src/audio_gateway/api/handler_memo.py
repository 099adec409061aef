"""Litestar's per-request exception-handler resolution, done once per route handler after start-up.

`ASGIRouter` asks every request's route handler for `resolve_exception_handlers()`, which says it is
memoised but walks the owner chain (handler → router → app) and merges their maps on every call: about
5 % of a TTS request's CPU (py-spy). The layers never change once the app is built, so the merged map
is computed here, once, and the handler answers with it. Handlers made by Litestar's decorators
(`@get`, `@post`, ...) have an instance `__dict__`; any other kind is left as it is.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute

__all__ = ["memoize_exception_handlers"]


def memoize_exception_handlers(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, _ in route.route_handler_map.values():
            if hasattr(handler, "__dict__") and "resolve_exception_handlers" not in handler.__dict__:
                resolved = handler.resolve_exception_handlers()
                handler.resolve_exception_handlers = _constant(resolved)  # type: ignore[method-assign]


def _constant(value: Any) -> Any:
    return lambda: value
