"""Per-request context as pure ASGI middleware: `x-request-id` on every response, one log line each.

A handler that routed the request puts the reason in `scope["state"]["route"]` before anything is
sent; it goes out as `x-gateway-route` on the response (an error after routing included) and in the line.
Handlers add fields (model asked/served, attempts, cost) to `scope["state"]["log"]`;
the line is written when the last body byte has been sent, so streamed responses
log their real size, duration and final cost.
"""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from ..providers.base import UpstreamFailure

__all__ = ["RequestContextMiddleware", "access_log"]

access_log = logging.getLogger("audio_gateway.access")
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def _incoming_request_id(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"x-request-id" and _SAFE_ID.match(value):
            return value
    return None


def _caused_by_provider(exc: BaseException) -> bool:
    """True when an UpstreamFailure is anywhere in the chain (Litestar wraps it after the response started)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, UpstreamFailure):
            return True
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
    return False


def new_request_id() -> bytes:
    """`req_` and 32 hex digits, as OpenAI's: 48 bits of Unix milliseconds, then 80 random bits (UUIDv7's
    layout). Time first, so rows recorded one after another are neighbours in the ledger's primary-key
    index: with random ids every insert touched a random page, and the books' cost grew with their size
    (benchmarks.ledger_overhead: SQLite's insert cost per row doubled by 100,000 rows)."""
    return b"req_%012x%s" % (time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF, os.urandom(10).hex().encode())


class RequestContextMiddleware:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope.get("headers", [])) or new_request_id()
        fields: dict[str, Any] = {}
        state = scope.setdefault("state", {})
        state["request_id"] = request_id.decode()
        state["log"] = fields
        state["started_at"] = datetime.now(UTC)
        started = state["started_perf"] = time.perf_counter()
        status = 0
        sent = 0

        async def send_with_id(message: dict) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [(b"x-request-id", request_id)]
                if state.get("route"):
                    extra.append((b"x-gateway-route", str(state["route"]).encode("ascii", "replace")))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if not (status and _caused_by_provider(exc)):
                raise
            # The provider broke off after our status line went out. Returning leaves the response
            # incomplete, so uvicorn cuts the connection (the client sees a truncated body) with one
            # line of log; the reason is in this request's access line, a traceback would add nothing.
        finally:
            line = {
                "request_id": request_id.decode(),
                "method": scope["method"],
                "path": scope["path"],
                "status": status or 499,
                "bytes": sent,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                **({"route": state["route"]} if state.get("route") else {}),
                **fields,
            }
            access_log.info(msgspec.json.encode(line).decode())
