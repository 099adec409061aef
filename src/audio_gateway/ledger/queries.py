"""What can be asked of a ledger store, and what comes back: frozen Structs, no SQL.

`Totals` is the one aggregate every reader uses (the Usage and Costs API, the CLI): rows in a time
range, filtered, cut into fixed-width buckets that start at `start`, and grouped. Grouping by
`line_item` sums billing lines instead of rows (a line item is a served model and a billing unit).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

import msgspec

from .model import LedgerRow

__all__ = ["GroupKey", "TotalsQuery", "Total", "RowFilter", "RowCursor", "RowPage", "GROUP_KEYS"]

GroupKey = Literal["model", "api_key_id", "provider", "line_item"]
GROUP_KEYS: tuple[GroupKey, ...] = ("model", "api_key_id", "provider", "line_item")


class TotalsQuery(msgspec.Struct, frozen=True, kw_only=True):
    start: datetime                               # inclusive, UTC-aware
    end: datetime                                 # exclusive
    bucket_seconds: int                           # buckets are [start + i*w, start + (i+1)*w)
    kinds: tuple[Literal["tts", "stt"], ...] = ()  # empty: every kind
    group_by: tuple[GroupKey, ...] = ()
    models: tuple[str, ...] = ()                  # the model that served (the one asked for when none did)
    api_key_ids: tuple[str, ...] = ()             # empty: every key
    statuses: tuple[str, ...] = ()                # empty: every status
    fell_back: bool | None = None                 # True: only rows served (or failed) past their first target


class Total(msgspec.Struct, frozen=True, kw_only=True):
    """One bucket × group. Group fields not grouped on are None."""

    bucket: int                                   # index from the query's start
    model: str | None = None
    api_key_id: str | None = None
    provider: str | None = None
    unit: str | None = None                       # with line_item: the billing unit
    requests: int = 0                             # rows (with line_item: rows that had this line)
    characters: int = 0
    seconds: int = 0                              # per-row whole seconds, summed
    audio_seconds: Decimal = Decimal(0)
    cost_usd: Decimal = Decimal(0)
    quantity: Decimal | None = None               # with line_item: the lines' quantities summed


class RowFilter(msgspec.Struct, frozen=True, kw_only=True):
    api_key_id: str | None = None
    model: str | None = None                      # matches the model served
    status: str | None = None
    kind: Literal["tts", "stt"] | None = None
    since: datetime | None = None                 # inclusive, UTC-aware


class RowCursor(msgspec.Struct, frozen=True):
    """Where a page of rows (newest first) stopped: the last row's time and id."""

    created_at: datetime
    id: str


class RowPage(msgspec.Struct, frozen=True):
    rows: tuple[LedgerRow, ...]
    next: RowCursor | None

