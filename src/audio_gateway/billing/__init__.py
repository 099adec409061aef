"""Unified billing: one unit registry, typed usage, and pure pricing into exact Decimal charges."""

from .measure import (
    RequestFacts,
    count_tokens,
    estimates,
    expected_quantities,
    expected_usage,
    measure,
    measurer,
    pending_units,
    settle,
)
from .pricing import (
    Charge,
    ChargeLine,
    decimal_text,
    expected_total_pricer,
    price,
    round_seconds,
    total_usd,
)
from .units import UNIT_ALIASES, UNITS, Source, Unit, UnitSpec, schema_unit_names, units_for
from .usage import Usage

__all__ = [
    "Charge", "ChargeLine", "RequestFacts", "Source", "UNITS", "UNIT_ALIASES", "Unit", "UnitSpec", "Usage",
    "count_tokens", "decimal_text", "estimates", "expected_quantities", "expected_total_pricer", "expected_usage",
    "measure", "measurer", "pending_units", "price", "round_seconds", "schema_unit_names", "settle", "total_usd",
    "units_for",
]
