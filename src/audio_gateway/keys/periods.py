"""Budget periods as pure functions of a UTC instant: calendar day, ISO week (Monday), month, or all time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .model import Period

__all__ = ["period_start", "period_end", "period_bounds", "EPOCH"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_start(period: Period, now: datetime) -> datetime:
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return EPOCH


def period_end(period: Period, now: datetime) -> datetime | None:
    """When the current period ends (the budget resets); None for `total`, which never does."""
    return period_bounds(period, now)[1]


def period_bounds(period: Period, now: datetime) -> tuple[datetime, datetime | None]:
    """(start, end) of the period `now` is in."""
    start = period_start(period, now)
    return start, _end(period, start)


def _end(period: Period, start: datetime) -> datetime | None:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    if period == "month":
        return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return None
