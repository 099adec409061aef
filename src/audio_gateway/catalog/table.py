"""`audio-gateway catalog show`: the compiled catalog as a plain-text table."""

from __future__ import annotations

from ..billing.pricing import decimal_text
from ..billing.units import UNITS, Unit
from .model import BillingComponent, Plan
from .routing import describe_routing

__all__ = ["render_table", "describe_price"]

def describe_price(component: BillingComponent) -> str:
    """`$15 / 1M chars`, `$0.006 / min (round up 1s)`, `$12 / 1M output tokens (est. 1.4 x chars)`."""
    if component.unit == Unit.SECOND and component.per % 60 == 0:
        minutes = component.per // 60
        text = f"${decimal_text(component.price_usd)} / {'' if minutes == 1 else f'{minutes} '}min"
        return text + f" (round {component.rounding} {decimal_text(component.round_to_seconds)}s)"
    per = {1_000_000: "1M ", 1_000: "1K ", 1: ""}.get(component.per, f"{component.per} ")
    text = f"${decimal_text(component.price_usd)} / {per}{UNITS[component.unit].label}"
    if component.estimate is not None:
        text += f" (est. {decimal_text(component.estimate.ratio)} x {UNITS[component.estimate.from_].label})"
    return text


def render_table(plan: Plan) -> str:
    """One row per model. ROUTING is `chain` for a plain fallback chain, else the block (`content(cjk>=0.3)
    then cheapest`); a virtual model has no provider, upstream or price, and lists all its targets."""
    rows = [("MODEL", "KIND", "PROVIDER", "UPSTREAM", "PRICE", "FALLBACKS", "ROUTING", "ALIASES")]
    for route in plan.routes.values():
        m = route.model
        rows.append((
            m.id, m.kind, m.provider or "-", m.upstream_model or "-",
            " + ".join(describe_price(c) for c in m.billing) or "-",
            " -> ".join(t.model.id for t in (route.targets if m.virtual else route.targets[1:])) or "-",
            describe_routing(m.routing) if m.routing is not None else "chain",
            ", ".join(m.aliases) or "-",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n" for row in rows)
