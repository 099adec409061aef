"""Pricing as a pure function: the same usage and components always give the same cost.

Money is `Decimal` end to end; nothing is rounded except billed seconds, whose rounding rule is part
of the catalog. A component whose quantity is not known yet (a provider reports it at the end of a
stream) is `pending`: priced at nothing now, named so that headers can say the cost is not final.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

import msgspec

from .measure import RequestFacts, expected_quantities, measurer
from .units import Unit
from .usage import Usage

if TYPE_CHECKING:
    from ..catalog.model import BillingComponent

__all__ = ["ChargeLine", "Charge", "price", "round_seconds", "decimal_text", "total_usd",
           "expected_total_pricer"]

_MODES = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}


class ChargeLine(msgspec.Struct, frozen=True, kw_only=True):
    """One component as charged: `quantity` units at `price_usd` per `per`."""

    unit: Unit
    quantity: Decimal
    price_usd: Decimal
    per: int
    usd: Decimal
    estimated: bool = False


class Charge(msgspec.Struct, frozen=True, kw_only=True):
    lines: tuple[ChargeLine, ...]
    total_usd: Decimal
    pending: tuple[Unit, ...] = ()      # priced units whose quantity only arrives later

    @property
    def final(self) -> bool:
        return not self.pending

    @property
    def primary(self) -> ChargeLine:
        """The first component: what the `x-gateway-billing-*` headers report."""
        return self.lines[0]

    @property
    def estimated(self) -> bool:
        return any(line.estimated for line in self.lines)

    @staticmethod
    def zero() -> Charge:
        return Charge(lines=(), total_usd=Decimal(0))


def decimal_text(value: Decimal) -> str:
    """Plain notation without trailing zeros (`0.000165`, `15`): how money and quantities are shown."""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def round_seconds(seconds: Decimal, increment: Decimal, mode: str) -> Decimal:
    """Round a duration to whole billing increments (e.g. up to the next second)."""
    if seconds <= 0:
        return Decimal(0)
    steps = (Decimal(seconds) / increment).to_integral_value(rounding=_MODES[mode])
    return (steps * increment).normalize() if steps else Decimal(0)


def _quantity(component: BillingComponent, usage: Usage | Mapping[Unit, Decimal]) -> Decimal | None:
    raw = usage.get(component.unit)
    if raw is None:
        return None
    if component.unit == Unit.SECOND:
        return round_seconds(raw, component.round_to_seconds, component.rounding)
    return max(raw, Decimal(0))


def price(components: Sequence[BillingComponent], usage: Usage, *, pending: Iterable[Unit] = ()) -> Charge:
    """Cost of `usage` under `components`; never negative, exact to the last digit.

    A component with no quantity in `usage` costs nothing (e.g. a request that sent no prompt). Units in
    `pending` will be settled later (reported, or restated, at the end of a stream): the charge lists
    those it prices, and is not final."""
    waiting = set(pending)
    lines = []
    unknown: list[Unit] = []
    for component in components:
        quantity = _quantity(component, usage)
        if component.unit in waiting:
            unknown.append(component.unit)
        if quantity is None:
            quantity = Decimal(0)
        lines.append(ChargeLine(unit=component.unit, quantity=quantity, price_usd=component.price_usd,
                                per=component.per, usd=quantity * component.price_usd / component.per,
                                estimated=component.unit in usage.estimated))
    total = sum((line.usd for line in lines), Decimal(0))
    return Charge(lines=tuple(lines), total_usd=total, pending=tuple(dict.fromkeys(unknown)))


def total_usd(components: Sequence[BillingComponent], usage: Usage | Mapping[Unit, Decimal]) -> Decimal:
    """`price(components, usage).total_usd`, to the last digit, without the lines: what a budget reserves
    for each target of a route before the call, on every request of a key with a budget. `usage` may be
    a plain mapping of quantities (`measure.expected_quantities`)."""
    total = Decimal(0)
    for component in components:
        quantity = _quantity(component, usage)
        total += (quantity if quantity is not None else Decimal(0)) * component.price_usd / component.per
    return total


def expected_total_pricer(components: Sequence[BillingComponent]) -> Callable[[RequestFacts], Decimal] | None:
    """`total_usd` of a request's expected quantities under one model's billing, worked out once: what a
    budget reserves for each target of a route. None when the billing charges nothing.

    When every priced unit is one the gateway counts itself (not seconds, which round), no unit
    appears twice and nothing is estimated (every model in the shipped catalog), the cost is the sum
    of those counts at their prices, with no mappings in between; otherwise `total_usd` of
    `expected_quantities`, the general path."""
    priced = [component for component in components if component.price_usd]
    if not priced:
        return None

    def general(facts: RequestFacts) -> Decimal:
        return total_usd(components, expected_quantities(facts, components))

    units = [component.unit for component in components]
    if len(set(units)) < len(units) or any(component.estimate is not None for component in components):
        return general
    terms = []
    for component in priced:
        count = measurer(component)
        if count is None or component.unit == Unit.SECOND:
            return general
        terms.append((count, component.price_usd, component.per))

    def total(facts: RequestFacts) -> Decimal:
        amount = Decimal(0)
        for count, price_usd, per in terms:
            amount += count(facts) * price_usd / per
        return amount

    return total
