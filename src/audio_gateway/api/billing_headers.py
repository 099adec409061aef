"""The `x-gateway-*` headers every successful audio response carries, and the access-log fields.

Headers leave before the body, so for a stream whose cost depends on its end they say so:
`x-gateway-cost-final: false` and `x-gateway-cost-pending: <units>`; the settled cost is then in the
ledger row, `GET /v1/usage/requests/{id}`, the SSE done event and the access log.
"""

from __future__ import annotations

from typing import Any

from ..billing import Charge, decimal_text
from ..catalog import Target
from ..routing import Attempt

__all__ = ["gateway_headers", "log_fields"]


def gateway_headers(target: Target, attempts: tuple[Attempt, ...], charge: Charge) -> dict[str, str]:
    headers = {
        "x-gateway-model": target.model.id,
        "x-gateway-provider": target.provider.name,
        "x-gateway-attempts": str(sum(a.reached_provider for a in attempts)),
        "x-gateway-cost-usd": decimal_text(charge.total_usd),
        "x-gateway-cost-final": "true" if charge.final else "false",
    }
    if charge.lines:
        headers["x-gateway-billing-unit"] = str(charge.primary.unit)
        headers["x-gateway-billing-quantity"] = decimal_text(charge.primary.quantity)
    if charge.pending:
        headers["x-gateway-cost-pending"] = ",".join(map(str, charge.pending))
    return headers


def log_fields(target: Target, attempts: tuple[Attempt, ...], charge: Charge) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "model_served": target.model.id,
        "provider": target.provider.name,
        "attempts": [f"{a.model}:{a.outcome}" for a in attempts],
        "cost_usd": decimal_text(charge.total_usd),
    }
    if charge.estimated:
        fields["cost_estimated"] = True
    return fields
