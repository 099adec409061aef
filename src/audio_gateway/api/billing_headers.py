"""The `x-gateway-*` headers every successful audio response carries."""

from __future__ import annotations

from ..billing import Charge
from ..catalog import Target
from ..routing import Attempt

__all__ = ["gateway_headers", "usd"]


def usd(value) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def gateway_headers(target: Target, attempts: tuple[Attempt, ...], charge: Charge) -> dict[str, str]:
    primary = charge.primary
    return {
        "x-gateway-model": target.model.id,
        "x-gateway-provider": target.provider.name,
        "x-gateway-attempts": str(sum(1 for a in attempts if a.outcome not in ("not_configured", "unsupported"))),
        "x-gateway-cost-usd": usd(charge.total_usd),
        "x-gateway-billing-unit": primary.unit,
        "x-gateway-billing-quantity": usd(primary.quantity),
    }


def log_fields(target: Target, attempts: tuple[Attempt, ...], charge: Charge) -> dict:
    return {
        "model_served": target.model.id,
        "provider": target.provider.name,
        "attempts": [f"{a.model}:{a.outcome}" for a in attempts],
        "cost_usd": usd(charge.total_usd),
    }
