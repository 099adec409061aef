"""`/v1/gateway/keys`: the key CLI over HTTP for automation; admin keys only (or open mode on loopback).

    POST   /v1/gateway/keys          201  the key, and its `secret` (the only time it is shown)
    GET    /v1/gateway/keys          200  {"object": "list", "data": [key, ...]}
    GET    /v1/gateway/keys/{name}   200  the key
    PATCH  /v1/gateway/keys/{name}   200  the key (fields left out are kept, null clears a limit)
    DELETE /v1/gateway/keys/{name}   200  {"object": "gateway.key.deleted", "name", "deleted": true}

A key's shape is `keys.admin.key_view` (README, "Keys, budgets and rate limits"). A bad field is a 400
naming it in `param`, checked before anything is written; an unknown name a 404.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, patch, post

from ..errors import InvalidRequest, NotFound, PermissionDenied, ServiceUnavailable
from ..keys.admin import KeyAdmin
from ..keys.spec import KeyCreate, KeyInputError, KeyPatch
from ..keys.store import UnknownKey
from ..ledger.store import STORE_ERRORS
from .auth import client_key
from .body import read_capped
from .errors import decode_json_request, json_response
from .openapi import CreateKeyOperation, DeleteKeyOperation, KeyOperation, ListKeysOperation, UpdateKeyOperation

__all__ = ["KEY_ROUTES"]

_MAX_BODY = 64 * 1024


def _admin(request: Request) -> KeyAdmin:
    key = client_key(request)
    if key is not None and not key.admin:
        raise PermissionDenied("Managing keys needs an admin key (AUDIO_GATEWAY_ADMIN_KEYS, or a key created with "
                               "--admin).", code="admin_key_required")
    admin = request.app.state.get("key_admin")
    if admin is None:
        raise ServiceUnavailable("The keys database is not open yet.", code="keys_unavailable")
    return admin


def _invalid(exc: KeyInputError) -> InvalidRequest:
    code = "key_exists" if exc.field == "name" and "exists already" in exc.message else "invalid_value"
    return InvalidRequest(f"Invalid `{exc.field}`: {exc.message}.", param=exc.field, code=code)


def _not_found(name: str) -> NotFound:
    return NotFound(f"No key named {name!r}.", param="name", code="key_not_found")


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The keys database is unreachable right now. Retry shortly.", code="keys_unavailable",
                              headers={"retry-after": "2"})


async def _call(coro: Any) -> Any:
    try:
        return await coro
    except KeyInputError as exc:
        raise _invalid(exc) from None
    except STORE_ERRORS:
        raise _unavailable() from None


@post("/gateway/keys", status_code=201, operation_class=CreateKeyOperation)
async def create_key(request: Request) -> Response:
    admin = _admin(request)
    spec = await decode_json_request(await read_capped(request, _MAX_BODY), KeyCreate)
    record, secret = await _call(admin.create(spec))
    return json_response({**await _call(admin.view(record)), "secret": secret}, 201)


@get("/gateway/keys", operation_class=ListKeysOperation)
async def list_keys(request: Request) -> Response:
    admin = _admin(request)
    return json_response({"object": "list", "data": await _call(admin.list())})


@get("/gateway/keys/{name:str}", operation_class=KeyOperation)
async def get_key(request: Request, name: str) -> Response:
    admin = _admin(request)
    try:
        record = await _call(admin.get(name))
    except UnknownKey:
        raise _not_found(name) from None
    return json_response(await _call(admin.view(record)))


@patch("/gateway/keys/{name:str}", operation_class=UpdateKeyOperation)
async def update_key(request: Request, name: str) -> Response:
    admin = _admin(request)
    changes = await decode_json_request(await read_capped(request, _MAX_BODY), KeyPatch)
    try:
        record = await _call(admin.update(name, changes))
    except UnknownKey:
        raise _not_found(name) from None
    return json_response(await _call(admin.view(record)))


@delete("/gateway/keys/{name:str}", status_code=200, operation_class=DeleteKeyOperation)
async def delete_key(request: Request, name: str) -> Response:
    admin = _admin(request)
    try:
        await _call(admin.revoke(name))
    except UnknownKey:
        raise _not_found(name) from None
    return json_response({"object": "gateway.key.deleted", "name": name, "deleted": True})


KEY_ROUTES = [create_key, list_keys, get_key, update_key, delete_key]
