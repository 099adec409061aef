"""Query parameters of the Usage and Costs endpoints, validated into a frozen Struct (400 naming the param).

Arrays are accepted as OpenAI's clients send them: repeated (`group_by=model&group_by=api_key_id`),
with brackets (`group_by[]=model`), or comma-separated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from ..errors import InvalidRequest
from ..ledger.report import BUCKET_WIDTHS, Report, decode_cursor

__all__ = ["UsageParams", "Query", "parse_usage_params", "list_param"]

_LATEST = 253402300799  # 9999-12-31T23:59:59Z: the last second a datetime can hold


class UsageParams(msgspec.Struct, frozen=True, kw_only=True):
    start: int
    end: int
    bucket_width: str
    width: int
    limit: int
    first: int                                      # the page's first bucket (start, or the cursor's)
    group_by: tuple[str, ...]
    models: tuple[str, ...]
    api_key_ids: tuple[str, ...]
    project_ids: tuple[str, ...]
    user_ids: tuple[str, ...]


class Query(Protocol):
    """What is read of the query string: Litestar's MultiDict (and multidict's) `getall`."""

    def getall(self, key: str, default: list[str]) -> list[str]: ...


def list_param(query: Query, name: str) -> tuple[str, ...]:
    raw = list(query.getall(name, [])) + list(query.getall(f"{name}[]", []))
    return tuple(part.strip() for value in raw for part in value.split(",") if part.strip())


def _one(query: Query, name: str) -> str | None:
    values = query.getall(name, [])
    if len(values) > 1:
        raise InvalidRequest(f"`{name}` may be given once.", param=name, code="invalid_value")
    return values[0].strip() if values else None


def _time(query: Query, name: str, *, required: bool) -> int | None:
    raw = _one(query, name)
    if raw is None or raw == "":
        if required:
            raise InvalidRequest(f"`{name}` is required: the start of the range, in Unix seconds.", param=name,
                                 code="missing_required_parameter")
        return None
    if not raw.lstrip("-").isdigit() or not raw.isascii():
        raise InvalidRequest(f"`{name}` must be an integer (Unix seconds), got {raw[:40]!r}.", param=name,
                             code="invalid_value")
    value = int(raw)
    if not 0 <= value <= _LATEST:
        raise InvalidRequest(f"`{name}` must be between 0 and {_LATEST} (Unix seconds).", param=name,
                             code="invalid_value")
    return value


def parse_usage_params(query: Query, report: Report, *, now: int) -> UsageParams:
    start = _time(query, "start_time", required=True)
    assert start is not None
    end = _time(query, "end_time", required=False)
    if end is None:
        end = max(now, start)
    elif end <= start:
        raise InvalidRequest("`end_time` must be after `start_time`.", param="end_time", code="invalid_value")
    bucket_width = _one(query, "bucket_width") or "1d"
    width = BUCKET_WIDTHS.get(bucket_width)
    if width is None or bucket_width not in report.limits:
        raise InvalidRequest(f"`bucket_width` must be one of {', '.join(report.limits)}, got {bucket_width[:20]!r}.",
                             param="bucket_width", code="invalid_value")
    default, most = report.limits[bucket_width]
    raw_limit = _one(query, "limit")
    if raw_limit is None or raw_limit == "":
        limit = default
    elif not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= most:
        raise InvalidRequest(f"`limit` must be an integer from 1 to {most} for bucket_width={bucket_width}.",
                             param="limit", code="invalid_value")
    else:
        limit = int(raw_limit)
    group_by = list_param(query, "group_by")
    unknown = [g for g in group_by if g not in report.group_by]
    if unknown:
        raise InvalidRequest(f"`group_by` accepts {', '.join(report.group_by)}; {unknown[0][:40]!r} is not one of them.",
                             param="group_by", code="invalid_value")
    first = start
    page = _one(query, "page")
    if page:
        try:
            first = decode_cursor(page, start=start, end=end, width=width)
        except ValueError:
            raise InvalidRequest("`page` is not a cursor this query returned (use `next_page` as it came).",
                                 param="page", code="invalid_value") from None
    return UsageParams(start=start, end=end, bucket_width=bucket_width, width=width, limit=limit, first=first,
                       group_by=_unique(group_by), models=list_param(query, "models"),
                       api_key_ids=list_param(query, "api_key_ids"), project_ids=list_param(query, "project_ids"),
                       user_ids=list_param(query, "user_ids"))


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
