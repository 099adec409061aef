"""Every error leaves the gateway in OpenAI's shape, framework errors included.

Litestar's own 404/405/400/413 become `{"error": {...}}` here; unexpected
exceptions become a 500 with no detail (the traceback goes to the log only).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from ..errors import GatewayError, error_body
from .body import too_large
from .json_depth import MAX_JSON_DEPTH, nests_deeper_than

__all__ = ["exception_handlers", "gateway_error_response", "json_response", "decode_json_body",
           "decode_json_request"]

log = logging.getLogger("audio_gateway.errors")
_PATH_IN_MESSAGE = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content=msgspec.json.encode(content), status_code=status, media_type="application/json", headers=headers)


def decode_json_body(body: bytes, type_: type, *, depth_checked: bool = False) -> Any:
    """Decode and validate a JSON body; a failure is a 400 naming the offending field (or the body).

    Nesting deeper than MAX_JSON_DEPTH is refused before parsing (see json_depth); a RecursionError
    from the parser is caught as well, so no depth ever becomes a 500."""
    from ..errors import InvalidRequest

    if not body.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.", code="invalid_json")
    too_deep = InvalidRequest(f"The JSON body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep (or "
                              "its brackets do not balance); send a flat JSON object.", code="json_too_deep")
    if not depth_checked and nests_deeper_than(body):
        raise too_deep
    try:
        return msgspec.json.decode(body, type=type_)
    except RecursionError:
        raise too_deep from None
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH_IN_MESSAGE.search(text) or _MISSING_FIELD.search(text)
        raise InvalidRequest(f"Invalid request: {text}.", param=match.group(1) if match else None,
                             code="invalid_value") from None
    except msgspec.DecodeError:
        raise InvalidRequest("We could not parse the JSON body of your request. Send valid JSON.",
                             code="invalid_json") from None


_INLINE_BYTES = 64 * 1024


async def decode_json_request(body: bytes, type_: type) -> Any:
    """`decode_json_body` for a handler: a large body is checked and decoded in a worker thread, so that
    one pathological body (its depth check can take a fraction of a second) does not stall the event loop."""
    if len(body) > _INLINE_BYTES:
        return await anyio.to_thread.run_sync(decode_json_body, body, type_)
    return decode_json_body(body, type_)


def gateway_error_response(request: Request, exc: GatewayError) -> Response:
    return json_response(error_body(exc), exc.status, exc.headers or None)


_FRAMEWORK_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large", 415: "unsupported_media_type"}


def _http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if status == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}."
    elif status == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}."
    elif status == 413 and (limit := request.route_handler.resolve_request_max_body_size()):
        message = too_large(limit).message  # the same words as the JSON caps handlers enforce themselves
    else:
        message = str(exc.detail) if exc.detail else "Invalid request."
    error_type = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": error_type, "param": None, "code": _FRAMEWORK_CODES.get(status)}}
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in ("allow", "retry-after")}
    return json_response(body, status, headers or None)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {"error": {"message": "The gateway hit an internal error. Retry, and quote the x-request-id if it persists.",
                      "type": "server_error", "param": None, "code": "internal_error"}}
    return json_response(body, 500)


exception_handlers: ExceptionHandlersMap = {GatewayError: gateway_error_response, HTTPException: _http_exception, Exception: _unexpected}
