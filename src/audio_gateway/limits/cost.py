"""What a budget reserves for a request (pure): the dearest target's expected cost.

A fallback may serve the request on another target than the first, at another price; reserving the
most any target of the route would charge means a fallback can never carry a key past its budget.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ..billing import RequestFacts, expected_quantities, total_usd
from ..catalog import Route, Target

__all__ = ["reservation_usd"]


def reservation_usd(route: Route, facts_for: Callable[[Target], RequestFacts]) -> Decimal:
    costs = [total_usd(t.model.billing, expected_quantities(facts_for(t), t.model.billing)) for t in route.targets]
    return max(costs, default=Decimal(0))
