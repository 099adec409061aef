"""The `x-gateway-*` headers every successful audio response carries."""

from __future__ import annotations

from ..billing import Charge, decimal_text
from ..catalog import Target
from ..routing import Attempt

__all__ = ["gateway_headers", "log_fields"]


def gateway_headers(target: Target, attempts: tuple[Attempt, ...], charge: Charge) -> dict[str, str]:
    primary = charge.primary
    return {
        "x-gateway-model": target.model.id,
        "x-gateway-provider": target.provider.name,
        "x-gateway-attempts": str(sum(a.reached_provider for a in attempts)),
        "x-gateway-cost-usd": decimal_text(charge.total_usd),
        "x-gateway-billing-unit": primary.unit,
        "x-gateway-billing-quantity": decimal_text(primary.quantity),
    }


def log_fields(target: Target, attempts: tuple[Attempt, ...], charge: Charge) -> dict:
    return {
        "model_served": target.model.id,
        "provider": target.provider.name,
        "attempts": [f"{a.model}:{a.outcome}" for a in attempts],
        "cost_usd": decimal_text(charge.total_usd),
    }
