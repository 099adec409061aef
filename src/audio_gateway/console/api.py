"""The console's JSON endpoints (`/console/api/...`): what the pages draw, admin only (see guard.py).

They read the same stores the public API reads — the ledger through `LedgerStore`, the catalog and the
breakers through the pinned generation — and add only what that API has no shape for: totals by time
bucket for charts, recent rows filtered by key/model/status, provider health, the catalog as a whole.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import get_args

from litestar import Request, Response, get

from ..api.auth import KeyRing
from ..api.errors import json_response
from ..api.pinning import gateway_of
from ..api.usage import OUTAGE_HANDLERS
from ..errors import InvalidRequest, NotFound
from ..ledger.model import RowStatus
from ..ledger.queries import RowCursor, RowFilter
from ..ledger.report import request_object
from ..ledger.runtime import Ledger
from .catalog_view import catalog_view
from .overview import RANGES, overview
from .providers import providers_view

__all__ = ["overview_data", "providers_data", "requests_data", "request_data", "catalog_data", "options_data",
           "encode_row_cursor", "decode_row_cursor"]

MAX_LIMIT = 200


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def encode_row_cursor(cursor: RowCursor) -> str:
    return base64.urlsafe_b64encode(f"{cursor.created_at.isoformat()}|{cursor.id}".encode()).decode().rstrip("=")


def decode_row_cursor(token: str) -> RowCursor:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        stamp, _, row_id = text.partition("|")
        at = datetime.fromisoformat(stamp)
        if not row_id or at.tzinfo is None:
            raise ValueError(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest("`before` is not a cursor this endpoint returned.", param="before",
                             code="invalid_value") from None
    return RowCursor(at, row_id)


def _one(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return (value.strip() or None) if value is not None else None


@get("/api/overview", exception_handlers=OUTAGE_HANDLERS)
async def overview_data(request: Request) -> Response:
    range_name = _one(request, "range") or "day"
    if range_name not in RANGES:
        raise InvalidRequest(f"`range` must be one of {', '.join(RANGES)}.", param="range", code="invalid_value")
    ledger = _ledger(request)
    return json_response(await overview(ledger.store, range_name, ledger.clock()))


@get("/api/providers", exception_handlers=OUTAGE_HANDLERS)
async def providers_data(request: Request) -> Response:
    ledger = _ledger(request)
    return json_response(await providers_view(gateway_of(request), ledger.store, ledger.clock()))


@get("/api/requests", exception_handlers=OUTAGE_HANDLERS)
async def requests_data(request: Request) -> Response:
    status = _one(request, "status")
    if status is not None and status not in get_args(RowStatus):
        raise InvalidRequest(f"`status` must be one of {', '.join(get_args(RowStatus))}.", param="status",
                             code="invalid_value")
    raw_limit = _one(request, "limit") or "50"
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be an integer from 1 to {MAX_LIMIT}.", param="limit", code="invalid_value")
    before = _one(request, "before")
    where = RowFilter(api_key_id=_one(request, "api_key_id"), model=_one(request, "model"), status=status)
    page = await _ledger(request).store.list_rows(where, limit=int(raw_limit),
                                                   before=decode_row_cursor(before) if before else None)
    return json_response({"object": "list", "data": [request_object(row) for row in page.rows],
                          "next": encode_row_cursor(page.next) if page.next is not None else None})


@get("/api/requests/{request_id:str}", exception_handlers=OUTAGE_HANDLERS)
async def request_data(request: Request, request_id: str) -> Response:
    row = await _ledger(request).store.get(request_id.strip())
    if row is None:
        raise NotFound(f"No ledger row for request `{request_id[:128]}` (a row is written within about a second "
                       "of its request ending).", param="request_id", code="request_not_found")
    return json_response(request_object(row))


@get("/api/catalog")
async def catalog_data(request: Request) -> Response:
    return json_response(catalog_view(gateway_of(request), request.app.state.get("reloader")))


@get("/api/options")
async def options_data(request: Request) -> Response:
    """What the Requests page's filters offer: the configured keys' names, the catalog's models, statuses."""
    keys: KeyRing = request.app.state.key_ring
    names = sorted({key.name for key in keys.listed()})
    plan = gateway_of(request).plan
    return json_response({"object": "console.options", "api_key_ids": names,
                          "models": [m.id for m in plan.models], "statuses": list(get_args(RowStatus))})
