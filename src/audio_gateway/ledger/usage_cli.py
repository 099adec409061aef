"""`audio-gateway usage` and `audio-gateway db upgrade`: the ledger from a terminal.

`usage` sums the same `LedgerStore.totals` the Usage and Costs API sums, so its totals are the API's:
requests, characters (TTS input code points), seconds (STT, whole seconds per row), the exact audio
seconds and the exact cost, per model, key, provider or UTC day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

import msgspec

from ..billing import decimal_text
from .queries import GroupKey, Total, TotalsQuery
from .store import LedgerStore

__all__ = ["UsageLine", "CliGroup", "NoLedger", "parse_when", "usage_lines", "render", "upgrade_database",
           "usage_report", "usage_text"]

CliGroup = Literal["model", "key", "provider", "day"]
Format = Literal["table", "csv", "json"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STORE_GROUP: dict[str, GroupKey] = {"model": "model", "key": "api_key_id", "provider": "provider"}
_COLUMNS = ("requests", "characters", "seconds", "audio_seconds", "cost_usd")


class NoLedger(RuntimeError):
    """The database has no ledger tables yet."""


class UsageLine(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    requests: int
    characters: int
    seconds: int
    audio_seconds: Decimal
    cost_usd: Decimal


def parse_when(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _label(total: Total, group_by: CliGroup, since: datetime) -> str:
    if group_by == "day":
        return (since + timedelta(days=total.bucket)).date().isoformat()
    value = {"model": total.model, "key": total.api_key_id, "provider": total.provider}[group_by]
    return value if value is not None else ("(open)" if group_by == "key" else "(none)")


def usage_lines(totals: Sequence[Total], group_by: CliGroup, since: datetime) -> list[UsageLine]:
    """One line per group (pure): the store's totals, labelled."""
    return [UsageLine(group=_label(t, group_by, since), requests=t.requests, characters=t.characters,
                      seconds=t.seconds, audio_seconds=t.audio_seconds, cost_usd=t.cost_usd) for t in totals]


def _total(lines: Sequence[UsageLine]) -> UsageLine:
    return UsageLine(group="TOTAL", requests=sum(x.requests for x in lines), characters=sum(x.characters for x in lines),
                     seconds=sum(x.seconds for x in lines),
                     audio_seconds=sum((x.audio_seconds for x in lines), Decimal(0)),
                     cost_usd=sum((x.cost_usd for x in lines), Decimal(0)))


def _cells(line: UsageLine) -> list[str]:
    return [line.group, str(line.requests), str(line.characters), str(line.seconds),
            decimal_text(line.audio_seconds), decimal_text(line.cost_usd)]


def render(lines: Sequence[UsageLine], group_by: CliGroup, fmt: Format, *, since: datetime, until: datetime) -> str:
    total = _total(lines)
    if fmt == "json":
        def entry(line: UsageLine) -> dict[str, object]:
            return {"group": line.group, "requests": line.requests, "characters": line.characters,
                    "seconds": line.seconds, "audio_seconds": decimal_text(line.audio_seconds),
                    "cost_usd": decimal_text(line.cost_usd)}
        body = {"since": since.isoformat(), "until": until.isoformat(), "group_by": group_by,
                "rows": [entry(line) for line in lines], "total": entry(total)}
        return msgspec.json.encode(body).decode() + "\n"
    header = [group_by, *_COLUMNS]
    rows = [_cells(line) for line in [*lines, total]]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows[:-1]), rule, line(rows[-1])]) + "\n"


async def usage_report(store: LedgerStore, since: datetime, until: datetime, group_by: CliGroup) -> list[UsageLine]:
    # Not by day: one bucket wider than the whole range (whole seconds, rounded either way), so one line per group.
    width = 86400 if group_by == "day" else int((until - since).total_seconds()) + 2
    grouping: tuple[GroupKey, ...] = () if group_by == "day" else (_STORE_GROUP[group_by],)
    totals = await store.totals(TotalsQuery(start=since, end=until, bucket_seconds=width, group_by=grouping))
    return usage_lines(totals, group_by, since)


async def upgrade_database(url: str) -> tuple[str, str]:
    """Migrate the ledger at `url`; returns (displayable URL, revision)."""
    store = LedgerStore.from_url(url)
    try:
        return store.url, await store.upgrade()
    finally:
        await store.close()


async def usage_text(url: str, since: datetime | None, until: datetime | None, group_by: CliGroup,
                     fmt: Format) -> str:
    """The whole `audio-gateway usage` output; ValueError for a backwards range, NoLedger before any migration."""
    since, until = since or EPOCH, until or datetime.now(UTC)
    if until <= since:
        raise ValueError("--until must be after --since")
    store = LedgerStore.from_url(url)
    try:
        if await store.revision() is None:
            raise NoLedger("the ledger database has no tables yet; start the gateway or run `audio-gateway db upgrade`")
        lines = await usage_report(store, since, until, group_by)
    finally:
        await store.close()
    return render(lines, group_by, fmt, since=since, until=until)
