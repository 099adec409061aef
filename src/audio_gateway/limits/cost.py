"""What a budget reserves for a request: the dearest target's expected cost.

A fallback may serve the request on another target than the first, at another price; reserving the
most any target of the route would charge means a fallback can never carry a key past its budget.

`Reserver` prices with each model's billing worked out once (`billing.expected_total_pricer`), found
by the billing tuple's identity (`memo.ByIdentity`): it runs on every request of a key with a budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from ..billing import RequestFacts, expected_total_pricer
from ..catalog import Route, Target
from ..catalog.model import BillingComponent
from .memo import ByIdentity

__all__ = ["Reserver"]


class Reserver:
    def __init__(self) -> None:
        self._pricer: ByIdentity[Sequence[BillingComponent], Callable[[RequestFacts], Decimal] | None] = (
            ByIdentity(expected_total_pricer))

    def usd(self, route: Route, facts_for: Callable[[Target], RequestFacts]) -> Decimal:
        dearest = Decimal(0)
        for target in route.targets:
            pricer = self._pricer(target.model.billing)
            if pricer is not None:   # a target that charges nothing (a local engine) needs no facts
                cost = pricer(facts_for(target))
                if cost > dearest:
                    dearest = cost
        return dearest
