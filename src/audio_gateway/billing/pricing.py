"""Pricing as a pure function: the same usage and components always give the same cost.

Money is `Decimal` end to end; nothing is rounded except billed seconds, whose
rounding rule is part of the catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

import msgspec

from ..catalog.model import BillingComponent

__all__ = ["Usage", "ChargeLine", "Charge", "price", "round_seconds", "decimal_text"]

_MODES = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """What one request consumed, in every unit the catalog can price."""

    characters: int = 0
    utf8_bytes: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: Decimal = Decimal(0)
    requests: int = 1


class ChargeLine(msgspec.Struct, frozen=True):
    unit: str
    quantity: Decimal
    usd: Decimal


class Charge(msgspec.Struct, frozen=True):
    lines: tuple[ChargeLine, ...]
    total_usd: Decimal

    @property
    def primary(self) -> ChargeLine:
        """The first component: what the `x-gateway-billing-*` headers report."""
        return self.lines[0]


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


def _quantity(component: BillingComponent, usage: Usage) -> Decimal:
    match component.unit:
        case "character":
            return Decimal(usage.characters)
        case "utf8_byte":
            return Decimal(usage.utf8_bytes)
        case "input_token":
            return Decimal(usage.input_tokens)
        case "output_token":
            return Decimal(usage.output_tokens)
        case "second":
            return round_seconds(usage.seconds, component.round_to_seconds, component.rounding)
        case "request":
            return Decimal(usage.requests)
    raise ValueError(f"unknown billing unit {component.unit!r}")  # the schema makes this unreachable


def price(components: Sequence[BillingComponent], usage: Usage) -> Charge:
    """Cost of `usage` under `components`; never negative, exact to the last digit."""
    lines = []
    for component in components:
        quantity = _quantity(component, usage)
        usd = quantity * component.price_usd / component.per
        lines.append(ChargeLine(unit=component.unit, quantity=quantity, usd=usd))
    total = sum((line.usd for line in lines), Decimal(0))
    return Charge(lines=tuple(lines), total_usd=total)
