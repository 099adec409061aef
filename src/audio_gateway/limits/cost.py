"""What a budget reserves for a request: the dearest target's expected cost.

A fallback may serve the request on another target than the first, at another price; reserving the
most any target of the route would charge means a fallback can never carry a key past its budget.

`Reserver` prices with each model's billing worked out once (`billing.expected_total_pricer`): it
runs on every request of a key with a budget. Its pricers are found by the billing tuple's identity
and hold that tuple, so an id is never reused while its entry stands; a catalog swapped by a reload
brings new tuples, and the table is forgotten wholesale past 4096 entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from ..billing import RequestFacts, expected_total_pricer
from ..catalog import Route, Target
from ..catalog.model import BillingComponent

__all__ = ["Reserver"]

_Pricer = Callable[[RequestFacts], Decimal] | None


class Reserver:
    def __init__(self) -> None:
        self._pricers: dict[int, tuple[Sequence[BillingComponent], _Pricer]] = {}

    def usd(self, route: Route, facts_for: Callable[[Target], RequestFacts]) -> Decimal:
        dearest = Decimal(0)
        for target in route.targets:
            pricer = self._pricer(target.model.billing)
            if pricer is not None:   # a target that charges nothing (a local engine) needs no facts
                cost = pricer(facts_for(target))
                if cost > dearest:
                    dearest = cost
        return dearest

    def _pricer(self, billing: Sequence[BillingComponent]) -> _Pricer:
        found = self._pricers.get(id(billing))
        if found is None or found[0] is not billing:
            if len(self._pricers) >= 4096:
                self._pricers.clear()
            found = self._pricers[id(billing)] = (billing, expected_total_pricer(billing))
        return found[1]
