"""Usage as data: a mapping from a billing unit to an exact quantity, and which of them were estimated.

A request's usage is assembled from three kinds of figure (see `units.Source`): what the gateway
measured before the call, what the provider reported after it, and catalog estimates standing in for
a report that never came. `Usage.merged` encodes the precedence once: a provider's report wins over
the gateway's own count of a unit it restates; an estimate fills only what neither knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from .units import Unit

__all__ = ["Usage"]


class Usage(msgspec.Struct, frozen=True):
    """Quantities by unit. Treat `quantities` as read-only: build new values with the methods."""

    quantities: Mapping[Unit, Decimal] = msgspec.field(default_factory=dict)
    estimated: frozenset[Unit] = frozenset()

    @classmethod
    def of(cls, values: Mapping[Unit, int | Decimal] | None = None, /, **by_name: int | Decimal) -> Usage:
        """`Usage.of({Unit.CHARACTER: 5})` or `Usage.of(character=5, output_token=14)`."""
        merged: dict[Unit, Decimal] = {Unit(k): Decimal(v) for k, v in (values or {}).items()}
        merged.update({Unit(k): Decimal(v) for k, v in by_name.items()})
        return cls(quantities=merged)

    def get(self, unit: Unit) -> Decimal | None:
        return self.quantities.get(unit)

    def __contains__(self, unit: object) -> bool:
        return unit in self.quantities

    def merged(self, reported: Usage) -> Usage:
        """`reported` (the provider's figures) over this usage (the gateway's own)."""
        if not reported.quantities:
            return self
        quantities = {**self.quantities, **reported.quantities}
        return Usage(quantities=quantities, estimated=(self.estimated - set(reported.quantities)) | reported.estimated)

    def with_estimates(self, estimates: Mapping[Unit, Decimal]) -> Usage:
        """Fill units nobody reported with catalog estimates, marked as such."""
        missing = {unit: value for unit, value in estimates.items() if unit not in self.quantities}
        if not missing:
            return self
        return Usage(quantities={**self.quantities, **missing}, estimated=self.estimated | set(missing))

    def plus(self, other: Usage) -> Usage:
        """Unit-wise sum (a job's pieces); an estimate anywhere makes the sum an estimate."""
        quantities = dict(self.quantities)
        for unit, value in other.quantities.items():
            quantities[unit] = quantities.get(unit, Decimal(0)) + value
        return Usage(quantities=quantities, estimated=self.estimated | other.estimated)

    @staticmethod
    def total(usages: Iterable[Usage]) -> Usage:
        result = Usage()
        for usage in usages:
            result = result.plus(usage)
        return result
