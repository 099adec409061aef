"""The ledger read back: OpenAI's Usage and Costs endpoints, and one request's row by its x-request-id.

Who sees what: an admin key (AUDIO_GATEWAY_ADMIN_KEYS) sees every key's usage; an ordinary key sees
only its own (naming another in `api_key_ids` is a 403); with no keys configured (open, loopback-only
mode) everything is visible. Costs are the model that served, so a fallback shows where it was served.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from litestar import Request, Response, get
from litestar.types import ExceptionHandlersMap

from ..errors import NotFound, PermissionDenied, ServiceUnavailable
from ..ledger.queries import GROUP_KEYS, GroupKey, TotalsQuery
from ..ledger.report import REPORTS, Report, page_body, plan_page, request_object
from ..ledger.runtime import Ledger
from ..ledger.store import STORE_ERRORS
from .auth import client_key
from .errors import gateway_error_response, json_response
from .usage_openapi import CostsOperation, RequestUsageOperation, UsageOperation
from .usage_params import parse_usage_params

__all__ = ["usage_audio_speeches", "usage_audio_transcriptions", "costs", "request_usage", "OUTAGE_HANDLERS"]

log = logging.getLogger("audio_gateway.ledger")


def _ledger_down(request: Request, exc: Exception) -> Response:
    log.warning("ledger database unavailable on %s %s: %s: %s", request.method, request.url.path,
                type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
    return gateway_error_response(request, ServiceUnavailable(
        "The usage ledger's database is unreachable right now. Retry shortly.", code="ledger_unavailable",
        headers={"retry-after": "5"}))


OUTAGE_HANDLERS: ExceptionHandlersMap = {outage: _ledger_down for outage in STORE_ERRORS}


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _visible_keys(request: Request, asked: tuple[str, ...]) -> tuple[str, ...]:
    """The api_key_ids a query may cover: as asked for admins and in open mode, else the caller's own."""
    key = client_key(request)
    if key is None or key.admin:
        return asked
    others = [name for name in asked if name != key.name]
    if others:
        raise PermissionDenied(f"This key may read only its own usage; `api_key_ids` names {others[0][:64]!r}.",
                               param="api_key_ids", code="insufficient_permissions")
    return (key.name,)


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def _report(request: Request, report: Report) -> Response:
    ledger = _ledger(request)
    params = parse_usage_params(request.query_params, report, now=int(ledger.clock().timestamp()))
    keys = _visible_keys(request, params.api_key_ids)
    page = plan_page(params.start, params.end, params.width, params.limit, params.first)
    totals = []
    # Nothing in the ledger belongs to a project or a user, so filtering on either matches nothing.
    if page.buckets and not params.project_ids and not params.user_ids:
        group_by: tuple[GroupKey, ...] = tuple(g for g in GROUP_KEYS if g in params.group_by)
        totals = await ledger.store.totals(TotalsQuery(
            start=_utc(page.buckets[0][0]), end=_utc(page.buckets[-1][1]), bucket_seconds=params.width,
            kinds=report.kinds, group_by=group_by, models=params.models, api_key_ids=keys))
    return json_response(page_body(page, totals, report, params.group_by))


@get("/organization/usage/audio_speeches", operation_class=UsageOperation, exception_handlers=OUTAGE_HANDLERS)
async def usage_audio_speeches(request: Request) -> Response:
    return await _report(request, REPORTS["audio_speeches"])


@get("/organization/usage/audio_transcriptions", operation_class=UsageOperation,
     exception_handlers=OUTAGE_HANDLERS)
async def usage_audio_transcriptions(request: Request) -> Response:
    return await _report(request, REPORTS["audio_transcriptions"])


@get("/organization/costs", operation_class=CostsOperation, exception_handlers=OUTAGE_HANDLERS)
async def costs(request: Request) -> Response:
    return await _report(request, REPORTS["costs"])


@get("/usage/requests/{request_id:str}", operation_class=RequestUsageOperation, exception_handlers=OUTAGE_HANDLERS)
async def request_usage(request: Request, request_id: str) -> Response:
    row = await _ledger(request).store.get(request_id)
    key = client_key(request)
    if row is None or (key is not None and not key.admin and row.api_key_id != key.name):
        raise NotFound(f"No ledger row for request `{request_id[:128]}` (a row is written within about a second "
                       "of its request ending).", param="request_id", code="request_not_found")
    return json_response(request_object(row))
