"""Run-to-run spread: one figure measured in several rounds, as median and min–max. Pure."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import msgspec

__all__ = ["Spread", "number", "spread"]


class Spread(msgspec.Struct, frozen=True):
    median: float | None
    low: float | None
    high: float | None
    rounds: int  # how many rounds measured it

    def text(self, unit: str = "") -> str:
        """`12.3x (11.9–13.0)`, the range over the rounds; only the median when one round measured it; `n/a` when none did."""
        if self.median is None:
            return "n/a"
        if self.rounds < 2:
            return f"{number(self.median)}{unit}"
        return f"{number(self.median)}{unit} ({number(self.low)}–{number(self.high)})"  # type: ignore[arg-type]


def number(value: float) -> str:
    """Three significant digits or so, without exponents: 1,372 · 336 · 11.9 · 0.65."""
    size = abs(value)
    return f"{value:,.0f}" if size >= 100 else f"{value:.1f}" if size >= 10 else f"{value:.2f}"


def spread(values: Sequence[float | None]) -> Spread:
    """Median and range over the rounds that measured the figure (None: not measured in that round)."""
    measured = [v for v in values if v is not None]
    if not measured:
        return Spread(None, None, None, 0)
    return Spread(round(statistics.median(measured), 3), min(measured), max(measured), len(measured))
