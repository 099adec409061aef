"""The policy router: (route, request facts, provider state) → ordered targets and the reason. Pure.

A route without a routing block keeps its fallback chain (`chain`). With one, the first content rule
that matches and whose target can serve goes first (`content:<rule>`); then the block's policy orders
its candidates (`cheapest`, `fastest`, `weighted:<target>`, or `chain` as declared); then the tail,
the rest of their fallback chains. The reason always names what put the FIRST target first.

"Can serve" is known before any call: a target the request's capability check rejects (`unsuitable`)
or whose provider `serve_first` would skip right now (breaker open, not configured) is never a
policy's pick; it keeps its place after the eligible ones, so `serve_first` still records it.
The caller snapshots the live state (`ProviderState`); nothing here reads a clock or a global, so the
same inputs give the same order, and a swapped plan composes with no change here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

import msgspec

from ..billing import RequestFacts, expected_usage, price
from ..billing.units import ModelKind
from ..catalog.model import Route, RoutingPlan, Target, TtsModel
from .content import cjk_share, rule_matches
from .latency import LatencyView

__all__ = ["RouteFacts", "ProviderState", "Decision", "decide", "reachable", "request_price", "weighted_index", "CHAIN"]

CHAIN = "chain"


class RouteFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the router may look at: the request as the client sent it, the probed audio length, and
    which targets cannot honour it (their capability check failed)."""

    kind: ModelKind
    request_id: str = ""
    text: str = ""                          # speech input
    instructions: str = ""                  # speech instructions (priced only where a target takes them)
    prompt: str = ""                        # transcription prompt
    voice: str | None = None
    response_format: str | None = None
    language: str | None = None             # the transcription's `language` field
    audio_seconds: Decimal | None = None    # probed upload length
    unsuitable: frozenset[str] = frozenset()  # model ids


class ProviderState(msgspec.Struct, frozen=True, kw_only=True):
    """Live provider state at decision time, for the route's kind."""

    skipped: frozenset[str] = frozenset()   # providers serve_first would skip now (breaker open, no key)
    latency: Mapping[str, LatencyView] = msgspec.field(default_factory=dict)


class Decision(msgspec.Struct, frozen=True):
    targets: tuple[Target, ...]
    reason: str                             # x-gateway-route


Eligible = Callable[[Target], bool]
Ordered = tuple[list[Target], str | None]   # candidates in order, and the reason for the head (None: no pick)


def reachable(route: Route) -> tuple[Target, ...]:
    """Every target a decision for `route` can contain: its default order and its rules' targets."""
    found = {t.model.id: t for t in route.targets}
    for rule in route.routing.rules if route.routing is not None else ():
        found.setdefault(rule.target.model.id, rule.target)
    return tuple(found.values())


def request_price(target: Target, facts: RouteFacts) -> Decimal:
    """This request's price on `target`, as billing would compute it, estimates for reported units included."""
    model = target.model
    if isinstance(model, TtsModel):
        instructions = facts.instructions if model.capabilities.instructions else ""
        billed = RequestFacts(kind="tts", text=facts.text, instructions=instructions)
    else:
        billed = RequestFacts(kind="stt", prompt=facts.prompt, audio_seconds=facts.audio_seconds or Decimal(0))
    return price(model.billing, expected_usage(billed, model.billing)).total_usd


def weighted_index(weights: Sequence[float], key: str) -> int:
    """Index picked for `key`: a stable hash of it, as a point on the weights laid end to end.

    blake2b, not `hash()`: the same request id picks the same target in every process and release."""
    point = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64
    goal = point * sum(weights)
    running = 0.0
    for index, weight in enumerate(weights):
        running += weight
        if goal < running:
            return index
    return len(weights) - 1


def _split(candidates: Sequence[Target], eligible: Eligible) -> tuple[list[Target], list[Target]]:
    return [t for t in candidates if eligible(t)], [t for t in candidates if not eligible(t)]


def _chain(plan: RoutingPlan, facts: RouteFacts, state: ProviderState, eligible: Eligible, key: str) -> Ordered:
    return list(plan.candidates), CHAIN


def _cheapest(plan: RoutingPlan, facts: RouteFacts, state: ProviderState, eligible: Eligible, key: str) -> Ordered:
    good, bad = _split(plan.candidates, eligible)
    good.sort(key=lambda t: request_price(t, facts))  # stable: equal prices keep the declared order
    return good + bad, "cheapest" if good else None


def _fastest(plan: RoutingPlan, facts: RouteFacts, state: ProviderState, eligible: Eligible, key: str) -> Ordered:
    """Trusted averages (at least `min_samples` recent samples), fastest first; a provider not yet
    trusted goes before them so that it gets measured (`fastest:unmeasured`), in declared order."""
    good, bad = _split(plan.candidates, eligible)
    if not good:
        return bad, None
    trusted: dict[str, float] = {}
    for target in good:
        view = state.latency.get(target.provider.name)
        if view is not None and view.samples >= plan.min_samples:
            trusted[target.model.id] = view.ewma_ms
    unmeasured = [t for t in good if t.model.id not in trusted]
    measured = sorted((t for t in good if t.model.id in trusted), key=lambda t: trusted[t.model.id])  # stable on ties
    return unmeasured + measured + bad, "fastest:unmeasured" if unmeasured else "fastest"


def _weighted(plan: RoutingPlan, facts: RouteFacts, state: ProviderState, eligible: Eligible, key: str) -> Ordered:
    """One candidate picked by weight among those that can serve; the others follow in declared order."""
    indexed = [(t, w) for t, w in zip(plan.candidates, plan.weights) if eligible(t)]
    if not indexed:
        return list(plan.candidates), None
    pick = indexed[weighted_index([w for _, w in indexed], key)][0]
    return [pick, *(t for t in plan.candidates if t is not pick)], f"weighted:{pick.model.id}"


_POLICIES: Mapping[str, Callable[[RoutingPlan, RouteFacts, ProviderState, Eligible, str], Ordered]] = {
    "chain": _chain, "cheapest": _cheapest, "fastest": _fastest, "weighted": _weighted,
}


def decide(route: Route, facts: RouteFacts, state: ProviderState = ProviderState()) -> Decision:
    """The targets to try, in order, and the reason the first one is first."""
    plan = route.routing
    if plan is None:
        return Decision(route.targets, CHAIN)

    def eligible(target: Target) -> bool:
        return target.model.id not in facts.unsuitable and target.provider.name not in state.skipped

    memo: list[float] = []

    def share() -> float:
        if not memo:
            memo.append(cjk_share(facts.text))
        return memo[0]

    seconds = float(facts.audio_seconds) if facts.audio_seconds is not None else None
    rule = next((rule for rule in plan.rules if eligible(rule.target) and rule_matches(
        rule, share=share, language=facts.language, voice=facts.voice, response_format=facts.response_format,
        audio_seconds=seconds)), None)
    ordered, reason = _POLICIES[plan.policy](plan, facts, state, eligible, f"{route.model.id}\0{facts.request_id}")
    targets = [*ordered, *plan.tail]
    if rule is None:
        return Decision(tuple(targets), reason or CHAIN)
    chosen = rule.target.model.id  # the rest keep the policy's order behind it
    return Decision((rule.target, *(t for t in targets if t.model.id != chosen)), f"content:{rule.name}")
