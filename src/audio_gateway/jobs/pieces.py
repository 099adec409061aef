"""A speech job's pieces: how the text is cut and billed, and where finished pieces are kept.

Cutting is deterministic (`split_text`), so a retry sees the same pieces. Every finished piece is
uploaded under the job (`…/pieces/<n>.<fmt>`) and recorded with its exact charge on the job record
before the next step, so a retry after an outage, a crash or a stitching problem synthesises only the
pieces it lacks, and a cancelled or failed job can bill exactly what was made.

Billing slices: the provider receives each piece stripped, but each piece is billed for its share of
the input including the whitespace around it, so the pieces' characters and bytes add up to the
input's — a job prices the same text exactly as the sync endpoint does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from ..billing import Charge, decimal_text
from .model import JobUsage, JobUsageLine, PieceLine, PieceRecord
from .split import split_text

__all__ = ["Piece", "cut_pieces", "piece_record_lines", "usage_of_pieces"]


class Piece(msgspec.Struct, frozen=True):
    index: int
    text: str        # what the provider receives
    billed: str      # what the piece is billed as (its slice of the input, whitespace included)


def cut_pieces(text: str, max_chars: int) -> list[Piece]:
    """Provider-sized pieces; an input that fits is one piece, sent exactly as given."""
    if len(text) <= max_chars:
        return [Piece(0, text, text)]
    parts = split_text(text, max_chars)
    starts, cursor = [], 0
    for part in parts:
        start = text.index(part, cursor)
        starts.append(start)
        cursor = start + len(part)
    bounds = [0, *starts[1:], len(text)]
    return [Piece(i, part, text[bounds[i]:bounds[i + 1]]) for i, part in enumerate(parts)]


def piece_record_lines(charge: Charge) -> tuple[PieceLine, ...]:
    return tuple(PieceLine(unit=str(line.unit), quantity=decimal_text(line.quantity),
                           price_usd=decimal_text(line.price_usd), per=line.per, cost_usd=decimal_text(line.usd),
                           estimated=line.estimated) for line in charge.lines)


def usage_of_pieces(pieces: Iterable[PieceRecord], *, total: int) -> JobUsage:
    """A speech job's usage: per model and unit, exact sums; the cost is the sum of the pieces' costs."""
    pieces = sorted(pieces, key=lambda p: p.index)
    grouped: dict[tuple[str, str], list[Decimal]] = {}
    estimated: set[tuple[str, str]] = set()
    for piece in pieces:
        for line in piece.lines:
            key = (piece.model_served, line.unit)
            quantity, cost = grouped.setdefault(key, [Decimal(0), Decimal(0)])
            grouped[key] = [quantity + Decimal(line.quantity), cost + Decimal(line.cost_usd)]
            if line.estimated:
                estimated.add(key)
    served = Counter(piece.model_served for piece in pieces)
    return JobUsage(
        cost_usd=decimal_text(sum((Decimal(p.cost_usd) for p in pieces), Decimal(0))),
        lines=tuple(JobUsageLine(model=model, unit=unit, quantity=decimal_text(q), cost_usd=decimal_text(c),
                                 estimated=(model, unit) in estimated)
                    for (model, unit), (q, c) in grouped.items()),
        model_served=",".join(model for model, _ in served.most_common()),
        attempts=sum(p.attempts for p in pieces), pieces=total, pieces_billed=len(pieces))
