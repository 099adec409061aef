"""The Keys page's endpoints: the key API of `/v1/gateway/keys` (issue 12), mounted again under the console.

The handlers are the very functions of `api/keys.py` — same checks, same 400s naming the field, same
JSON — registered at `/console/api/keys`, where the console guard has already made sure of an admin
(and, for a change, its CSRF token). Environment keys are listed beside them, read-only: they have no
limits, and their spend this month and last use come from the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Request, Response, delete, get, patch, post

from ..api.auth import KeyRing
from ..api.errors import json_response
from ..api.keys import create_key, delete_key, list_keys, update_key
from ..api.usage import OUTAGE_HANDLERS
from ..billing import decimal_text
from ..keys.admin import iso
from ..keys.periods import period_end, period_start
from ..ledger.queries import RowFilter
from ..ledger.runtime import Ledger

__all__ = ["CONSOLE_KEY_ROUTES"]


@get("/api/keys/environment", exception_handlers=OUTAGE_HANDLERS)
async def environment_keys(request: Request) -> Response:
    ring: KeyRing = request.app.state.key_ring
    ledger: Ledger = request.app.state.ledger
    now = ledger.clock()
    start = period_start("month", now)
    data = []
    for name in sorted(ring.env_names):
        key = ring.named(name)
        last = await ledger.store.list_rows(RowFilter(api_key_id=name), limit=1)
        data.append({"object": "gateway.environment_key", "name": name, "admin": bool(key and key.admin),
                     "spend_usd": decimal_text(await ledger.store.spend_since(name, start)),
                     "period_start": iso(start), "resets_at": iso(period_end("month", now)),
                     "last_used_at": iso(last.rows[0].created_at.astimezone(UTC)) if last.rows else None})
    return json_response({"object": "list", "data": data, "keys_api": request.app.state.get("key_admin") is not None,
                          "generated_at": int(datetime.now(UTC).timestamp())})


CONSOLE_KEY_ROUTES = [
    post("/api/keys", status_code=201)(create_key.fn),
    get("/api/keys")(list_keys.fn),
    patch("/api/keys/{name:str}")(update_key.fn),
    delete("/api/keys/{name:str}", status_code=200)(delete_key.fn),
    environment_keys,
]
