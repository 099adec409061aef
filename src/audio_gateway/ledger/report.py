"""OpenAI's Usage and Costs shapes over ledger totals: buckets, page cursors and result objects (pure).

A query covers [start_time, end_time) cut into buckets of `bucket_width` that start at `start_time`
(the last one ends at end_time). Every bucket in the page is listed, empty ones with `results: []`,
as OpenAI does; `limit` counts buckets, and `next_page` is an opaque cursor to the next bucket.

Money leaves here as JSON numbers written with every digit of the exact Decimal (`amount.value`,
`quantity`), plus the exact decimal as a string (`cost_usd`) for clients that parse numbers as floats.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Literal

import msgspec

from ..billing import decimal_text
from .model import LedgerRow
from .queries import GroupKey, Total

__all__ = [
    "BUCKET_WIDTHS", "Report", "REPORTS", "Page", "plan_page", "encode_cursor", "decode_cursor", "page_body",
    "line_item", "QUANTITY_UNITS", "request_object",
]

BUCKET_WIDTHS = {"1m": 60, "1h": 3600, "1d": 86400}

# The spec's quantity_unit for a billing unit; units it has no name for give null.
QUANTITY_UNITS = {"character": "characters", "input_token": "tokens", "output_token": "tokens",
                  "second": "duration_seconds", "minute": "duration_minutes"}


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """One endpoint: which rows it sums, what it may group by, its `limit` rules, how a result looks."""

    name: Literal["audio_speeches", "audio_transcriptions", "costs"]
    kinds: tuple[Literal["tts", "stt"], ...]
    group_by: tuple[str, ...]                       # accepted values (project_id/user_id: always null here)
    limits: dict[str, tuple[int, int]]              # bucket width → (default, max)
    render: Callable[[Total, frozenset[str]], dict[str, Any]]


def _number(value: Decimal) -> msgspec.Raw:
    """A JSON number with every digit of the decimal (never through a float)."""
    return msgspec.Raw(decimal_text(value).encode())


def _grouped(total: Total, group_by: frozenset[str], name: str) -> str | None:
    return getattr(total, name) if name in group_by else None


def line_item(model: str | None, unit: str | None) -> str:
    return f"{model or 'unknown'}, {unit}"


def _speeches(total: Total, group_by: frozenset[str]) -> dict[str, Any]:
    return {
        "object": "organization.usage.audio_speeches.result",
        "characters": total.characters,
        "num_model_requests": total.requests,
        "project_id": None,
        "user_id": None,
        "api_key_id": _grouped(total, group_by, "api_key_id"),
        "model": _grouped(total, group_by, "model"),
        "provider": _grouped(total, group_by, "provider"),
        "cost_usd": decimal_text(total.cost_usd),
    }


def _transcriptions(total: Total, group_by: frozenset[str]) -> dict[str, Any]:
    return {
        "object": "organization.usage.audio_transcriptions.result",
        "seconds": total.seconds,
        "num_model_requests": total.requests,
        "project_id": None,
        "user_id": None,
        "api_key_id": _grouped(total, group_by, "api_key_id"),
        "model": _grouped(total, group_by, "model"),
        "provider": _grouped(total, group_by, "provider"),
        "audio_seconds": decimal_text(total.audio_seconds),
        "cost_usd": decimal_text(total.cost_usd),
    }


def _costs(total: Total, group_by: frozenset[str]) -> dict[str, Any]:
    by_line = "line_item" in group_by
    return {
        "object": "organization.costs.result",
        "amount": {"value": _number(total.cost_usd), "currency": "usd"},
        "line_item": line_item(total.model, total.unit) if by_line else None,
        "project_id": None,
        "api_key_id": _grouped(total, group_by, "api_key_id"),
        "quantity": _number(total.quantity) if by_line and total.quantity is not None else None,
        "quantity_unit": QUANTITY_UNITS.get(total.unit or "") if by_line else None,
        "model": total.model if by_line or "model" in group_by else None,
        "provider": _grouped(total, group_by, "provider"),
        "cost_usd": decimal_text(total.cost_usd),
    }


_USAGE_LIMITS = {"1d": (7, 31), "1h": (24, 168), "1m": (60, 1440)}
_USAGE_GROUPS = ("project_id", "user_id", "api_key_id", "model", "provider")

REPORTS: dict[str, Report] = {
    "audio_speeches": Report(name="audio_speeches", kinds=("tts",), group_by=_USAGE_GROUPS, limits=_USAGE_LIMITS,
                             render=_speeches),
    "audio_transcriptions": Report(name="audio_transcriptions", kinds=("stt",), group_by=_USAGE_GROUPS,
                                   limits=_USAGE_LIMITS, render=_transcriptions),
    # The spec offers only 1d for costs; 1m and 1h work the same way here.
    "costs": Report(name="costs", kinds=(), group_by=("project_id", "line_item", "api_key_id", "model", "provider"),
                    limits={width: (7, 180) for width in BUCKET_WIDTHS}, render=_costs),
}


class Page(msgspec.Struct, frozen=True):
    buckets: tuple[tuple[int, int], ...]            # (start, end) Unix seconds, end exclusive
    next_start: int | None


def plan_page(start: int, end: int, width: int, limit: int, first: int) -> Page:
    """The buckets of one page: `limit` of them from `first`, the last cut at `end`."""
    buckets: list[tuple[int, int]] = []
    at = first
    while at < end and len(buckets) < limit:
        buckets.append((at, min(at + width, end)))
        at += width
    return Page(tuple(buckets), at if at < end else None)


def encode_cursor(bucket_start: int) -> str:
    return base64.urlsafe_b64encode(f"bucket:{bucket_start}".encode()).decode().rstrip("=")


def decode_cursor(token: str, *, start: int, end: int, width: int) -> int:
    """The bucket a `next_page` cursor points at; ValueError if it is not one of this query's buckets."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a page cursor") from None
    prefix, _, number = text.partition(":")
    if prefix != "bucket" or not number.isdigit():
        raise ValueError("not a page cursor")
    at = int(number)
    if not start <= at < end or (at - start) % width:
        raise ValueError("the cursor belongs to another query")
    return at


def page_body(page: Page, totals: Sequence[Total], report: Report, group_by: Sequence[GroupKey | str]) -> dict[str, Any]:
    """`{"object": "page", "data": [bucket…], "has_more", "next_page"}`; totals' bucket indexes count from the page's first bucket."""
    grouped = frozenset(group_by)
    results: list[list[dict[str, Any]]] = [[] for _ in page.buckets]
    for total in totals:
        if 0 <= total.bucket < len(results):
            results[total.bucket].append(report.render(total, grouped))
    data = [{"object": "bucket", "start_time": s, "end_time": e, "results": r}
            for (s, e), r in zip(page.buckets, results)]
    has_more = page.next_start is not None
    return {"object": "page", "data": data, "has_more": has_more,
            "next_page": encode_cursor(page.next_start) if page.next_start is not None else None}


def request_object(row: LedgerRow) -> dict[str, Any]:
    """One ledger row for `GET /v1/usage/requests/{id}`: every field, decimals as exact strings."""
    body: dict[str, Any] = {"object": "ledger.row", **msgspec.to_builtins(row, builtin_types=(Decimal,))}
    body.pop("cost_final", None)
    body["created_at"] = int(row.created_at.timestamp())
    body["created_at_iso"] = row.created_at.isoformat().replace("+00:00", "Z")
    for name in ("cost_usd", "audio_seconds"):
        body[name] = decimal_text(getattr(row, name))
    body["lines"] = [{**line, **{k: decimal_text(line[k]) for k in ("quantity", "price_usd", "cost_usd")}}
                     for line in body["lines"]]
    return body
