"""Routing blocks: cross-checks and compilation into `RoutingPlan`s, and the faces of virtual models.

Pure, like the rest of compilation. A routing block names candidates (`targets`, or `weights`) and
content rules (`use`); every name must be a real model of the same kind: a virtual model has no
provider, so it can be chosen by the client but never routed to. Routing does not chain (a target's
own routing block is not applied when it is chosen, only its fallbacks are followed), so the only
paths that could loop are fallback chains, which `compile._check_cycles` rejects.

A virtual model's capabilities are the widest of everything it can route to, so a request is refused
(400) only when no target could serve it; a target that cannot is skipped per request. Its voices are
its first target's voice set: the names clients use, which every target maps to its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..audio import RESPONSE_FORMATS, language_code
from .model import (
    ContentRule,
    Model,
    RoutedRule,
    RoutingPlan,
    RoutingSpec,
    SpeedRange,
    SttCapabilities,
    SttModel,
    Target,
    TtsCapabilities,
    TtsModel,
    VirtualModelSpec,
)

__all__ = ["check_routing", "routing_plan", "virtual_face", "rule_name", "describe_routing", "TTS_FORMATS"]

TTS_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
_CONDITIONS: Mapping[str, tuple[str, ...]] = {
    "tts": ("cjk_at_least", "voice", "response_format"),
    "stt": ("language", "response_format", "min_seconds", "max_seconds"),
}
Report = Callable[[str, tuple[str | int, ...]], None]


def _names(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def _number(value: float) -> str:
    return format(value, "g")


def rule_name(rule: ContentRule) -> str:
    """What `x-gateway-route` says after `content:` — the rule's `name`, else its conditions (`cjk>=0.3`)."""
    if rule.name:
        return rule.name
    parts = []
    if rule.cjk_at_least is not None:
        parts.append(f"cjk>={_number(rule.cjk_at_least)}")
    for label, values in (("language", rule.language), ("voice", rule.voice), ("format", rule.response_format)):
        if values is not None:
            parts.append(f"{label}={','.join(_names(values))}")
    if rule.min_seconds is not None:
        parts.append(f"seconds>={_number(rule.min_seconds)}")
    if rule.max_seconds is not None:
        parts.append(f"seconds<={_number(rule.max_seconds)}")
    return "&".join(parts)


def _check_reference(name: str, kind: str, models: Mapping[str, Model], virtual_ids: Mapping[str, str],
                     report: Report, path: tuple[str | int, ...]) -> None:
    if name in virtual_ids:
        report(f"{name!r} is a virtual model (no provider of its own); route to real models", path)
    elif name not in models:
        report(f"routing target {name!r} is not defined", path)
    elif models[name].kind != kind:
        report(f"routing target {name!r} is {models[name].kind}, not {kind}", path)


def _check_rule(rule: ContentRule, kind: str, report: Report, path: tuple[str | int, ...]) -> None:
    allowed = _CONDITIONS[kind]
    given = [field for field in ("cjk_at_least", "language", "voice", "response_format", "min_seconds", "max_seconds")
             if getattr(rule, field) is not None]
    if not given:
        report(f"a content rule needs a condition ({', '.join(allowed)} for {kind} models)", path)
    for field in given:
        if field not in allowed:
            report(f"{field} is not a condition for {kind} models (use {', '.join(allowed)})", (*path, field))
    for code in _names(rule.language):
        if language_code(code) != code:
            known = language_code(code)
            hint = f"; write {known!r}" if known else ""
            report(f"language {code!r} is not an ISO-639-1 code the gateway knows{hint}", (*path, "language"))
    formats = TTS_FORMATS if kind == "tts" else RESPONSE_FORMATS
    for fmt in _names(rule.response_format):
        if fmt not in formats:
            report(f"response_format {fmt!r} is not one of {list(formats)}", (*path, "response_format"))
    if rule.min_seconds is not None and rule.max_seconds is not None and rule.min_seconds > rule.max_seconds:
        report("min_seconds is greater than max_seconds", (*path, "min_seconds"))


def check_routing(model_id: str, kind: str, spec: RoutingSpec, *, virtual: bool, models: Mapping[str, Model],
                  virtual_ids: Mapping[str, str], report: Report) -> None:
    """Every problem with one routing block, reported at its JSON path below the model (`routing`, ...)."""
    for index, name in enumerate(spec.targets):
        _check_reference(name, kind, models, virtual_ids, report, ("routing", "targets", index))
    for name in spec.weights:
        _check_reference(name, kind, models, virtual_ids, report, ("routing", "weights", name))
    for index, rule in enumerate(spec.content):
        _check_reference(rule.use, kind, models, virtual_ids, report, ("routing", "content", index, "use"))
        _check_rule(rule, kind, report, ("routing", "content", index))
    if virtual and not spec.targets and not spec.weights:
        report(f"virtual model {model_id!r} has no provider of its own: list its `targets` (or `weights`)",
               ("routing",))


def _unique(targets: Sequence[Target]) -> tuple[Target, ...]:
    seen: dict[str, Target] = {}
    for target in targets:
        seen.setdefault(target.model.id, target)
    return tuple(seen.values())


def routing_plan(spec: RoutingSpec, own_chain: Sequence[Target],
                 chain_of: Callable[[str], Sequence[Target]]) -> tuple[RoutingPlan, tuple[Target, ...]]:
    """The compiled block, and the route's default order.

    Candidates are `targets`, else the `weights` keys, else the model's own chain; the tail is every
    other model their fallback chains (and a real model's own chain) reach. The default order starts
    with `own_chain` (the named model first); a virtual model has none and starts with its candidates."""
    declared = spec.targets or tuple(spec.weights)
    candidates = tuple(chain_of(name)[0] for name in declared) if declared else tuple(own_chain)
    pool = _unique([*own_chain, *(t for name in declared for t in chain_of(name))])
    chosen = {t.model.id for t in candidates}
    tail = tuple(t for t in pool if t.model.id not in chosen)
    rules = tuple(
        RoutedRule(name=rule_name(rule), target=chain_of(rule.use)[0], cjk_at_least=rule.cjk_at_least,
                   languages=frozenset(_names(rule.language)), voices=frozenset(_names(rule.voice)),
                   response_formats=frozenset(_names(rule.response_format)), min_seconds=rule.min_seconds,
                   max_seconds=rule.max_seconds)
        for rule in spec.content)
    weights = tuple(float(spec.weights[t.model.id]) for t in candidates) if spec.policy == "weighted" else ()
    plan = RoutingPlan(policy=spec.policy, rules=rules, candidates=candidates, tail=tail, weights=weights,
                       min_samples=spec.min_samples)
    return plan, (pool if own_chain else _unique([*candidates, *tail]))


def _widest(values: Sequence[Any]) -> Any:
    """The most permissive of the targets' values for one capability: any list member, any true flag,
    the largest limit (None, no limit, beats every number), the widest range; text is the first's."""
    first = values[0]
    if isinstance(first, tuple):
        return tuple(dict.fromkeys(item for value in values for item in value))
    if isinstance(first, bool):
        return any(values)
    if isinstance(first, SpeedRange):
        return SpeedRange(min=min(v.min for v in values), max=max(v.max for v in values))
    if any(v is None for v in values):
        return None
    if isinstance(first, int | float):
        return max(values)
    return first


def _widest_capabilities(capabilities: Sequence[Any]) -> Any:
    kind = type(capabilities[0])
    return kind(**{name: _widest([getattr(c, name) for c in capabilities]) for name in kind.__struct_fields__})


def virtual_face(spec: VirtualModelSpec, plan: RoutingPlan, default_order: Sequence[Target]) -> Model:
    """The model a client sees for a virtual id: what validation, `/v1/models` and jobs read."""
    reachable = _unique([*default_order, *(rule.target for rule in plan.rules)])
    common: dict[str, Any] = dict(id=spec.id, provider="", upstream_model="", billing=(), aliases=spec.aliases,
                                  description=spec.description, strengths=spec.strengths, languages=spec.languages,
                                  routing=spec.routing)
    if spec.kind == "tts":
        tts_caps: TtsCapabilities = _widest_capabilities([t.model.capabilities for t in reachable])
        first = plan.candidates[0].model
        assert isinstance(first, TtsModel)
        return TtsModel(capabilities=tts_caps, voices=first.voices, **common)
    stt_caps: SttCapabilities = _widest_capabilities([t.model.capabilities for t in reachable])
    return SttModel(capabilities=stt_caps, **common)


def describe_routing(spec: RoutingSpec) -> str:
    """One line for `catalog show`: `content(cjk>=0.3) then cheapest`, `weighted(a=9, b=1)`, `fastest(5 samples)`."""
    rules = ", ".join(rule_name(rule) for rule in spec.content)
    policy: str = spec.policy
    if spec.policy == "weighted":
        policy += "(" + ", ".join(f"{name}={_number(float(w))}" for name, w in spec.weights.items()) + ")"
    elif spec.policy == "fastest":
        policy += f"({spec.min_samples} samples)"
    return (f"content({rules}) then " if rules else "") + policy

