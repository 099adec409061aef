"""Catalog compilation: validated file data → cross-checked, immutable `Plan`.

Pure: no file or network access, so it is tested table-driven. Everything an
operator can get wrong is reported as a `CatalogProblem`, all at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import jsonschema
import msgspec

from ..billing.units import UNIT_ALIASES, UNITS, Source
from .model import (
    Model,
    Plan,
    Provider,
    ProviderOverrides,
    Route,
    RoutingSpec,
    SttCapabilities,
    SttModel,
    Target,
    TtsModel,
    VirtualModelSpec,
    VoiceSet,
)
from .problems import CatalogInvalid, CatalogProblem
from .routing import check_routing, routing_plan, virtual_face
from .schema import schema_problems
from .source import SourceFile

__all__ = ["compile_plan"]


class _Located(msgspec.Struct, frozen=True):
    """A decoded catalog entry and where it was written."""

    value: Any
    source: SourceFile
    path: tuple[str | int, ...]

    def problem(self, message: str, *sub: str | int) -> CatalogProblem:
        return self.source.problem(self.path + sub, message)


def _decode(raw: Any, type_: Any, located: tuple[SourceFile, tuple], problems: list[CatalogProblem]) -> Any:
    source, path = located
    try:
        return msgspec.convert(raw, type_, from_attributes=False)
    except msgspec.ValidationError as exc:
        problems.append(source.problem(path, str(exc)))
        return None


def _normalise_billing(raw_model: dict) -> dict:
    """Unit aliases (`minute`) become their unit with a larger `per`: one unit less to price."""
    billing = []
    for component in raw_model.get("billing", []):
        alias = UNIT_ALIASES.get(component.get("unit"))
        if alias is not None:
            unit, factor = alias
            component = {**component, "unit": str(unit), "per": component.get("per", 1) * factor}
        billing.append(component)
    return {**raw_model, "billing": billing}


def _check_billing(located: _Located, problems: list[CatalogProblem]) -> None:
    """Units the model's kind may price; a provider-reported unit needs an estimate it can fall back on."""
    model: Model = located.value
    for index, component in enumerate(model.billing):
        spec = UNITS[component.unit]
        source = spec.sources.get(model.kind)
        if source is None:
            problems.append(located.problem(f"a {model.kind} model cannot be billed per {component.unit}",
                                            "billing", index, "unit"))
            continue
        estimate = component.estimate
        if source == Source.PROVIDER and estimate is None:
            problems.append(located.problem(
                f"{component.unit} is reported by the provider; declare `estimate: {{from: <unit>, ratio: <n>}}` "
                "for when it reports none (and for budget reservations)", "billing", index))
        if estimate is not None and source != Source.PROVIDER:
            problems.append(located.problem(f"{component.unit} is measured by the gateway; an estimate applies only "
                                            "to units the provider reports", "billing", index, "estimate"))
        elif estimate is not None:
            basis = UNITS[estimate.from_].sources.get(model.kind)
            if basis not in (Source.TEXT, Source.AUDIO):
                problems.append(located.problem(
                    f"an estimate must be based on a unit the gateway measures for {model.kind} models "
                    f"({', '.join(u for u, s in UNITS.items() if s.sources.get(model.kind) in (Source.TEXT, Source.AUDIO))})",
                    "billing", index, "estimate", "from"))


_FLAGS = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def _provider_fields(raw: dict, name: str) -> dict:
    """`enabled` may come from the environment (`${AUDIO_GATEWAY_LOCAL:-on}`), so it may be a word."""
    enabled = raw.get("enabled", True)
    if isinstance(enabled, str):
        enabled = _FLAGS[enabled.strip().lower()]   # the schema allowed only these words
    return {**raw, "name": name, "enabled": enabled}


def _without(routing: RoutingSpec | None, gone: set[str]) -> RoutingSpec | None:
    """A routing block with the dropped models taken out of its rules, targets and weights."""
    if routing is None:
        return None
    return msgspec.structs.replace(
        routing, content=tuple(rule for rule in routing.content if rule.use not in gone),
        targets=tuple(t for t in routing.targets if t not in gone),
        weights={t: w for t, w in routing.weights.items() if t not in gone})


def _drop_disabled(providers: dict[str, _Located], models: dict[str, _Located], virtuals: dict[str, _Located]) -> None:
    """A disabled provider leaves the plan with its models, and fallbacks and routing targets to them go too.

    So a catalog reads the same with the provider switched off as if it had never been written.
    """
    disabled = {name for name, located in providers.items() if not located.value.enabled}
    if not disabled:
        return
    for name in disabled:
        del providers[name]
    gone = {model_id for model_id, located in models.items() if located.value.provider in disabled}
    for model_id in gone:
        del models[model_id]
    for model_id, located in models.items():
        model: Model = located.value
        kept = tuple(f for f in model.fallbacks if f.model not in gone)
        routing = _without(model.routing, gone)
        if len(kept) != len(model.fallbacks) or routing != model.routing:
            model = msgspec.structs.replace(model, fallbacks=kept, routing=routing)
            models[model_id] = _Located(model, located.source, located.path)
    for model_id, located in virtuals.items():
        virtual: VirtualModelSpec = located.value
        routing = _without(virtual.routing, gone)
        if routing != virtual.routing:
            virtuals[model_id] = _Located(msgspec.structs.replace(virtual, routing=routing), located.source, located.path)


def _check_stt_capabilities(located: _Located, problems: list[CatalogProblem]) -> None:
    """Capabilities that only make sense together: each needs the upstream answer that can carry it."""
    caps: SttCapabilities = located.value.capabilities
    upstream = caps.upstream_response_format
    needs = [
        ("word" in caps.timestamp_granularities and upstream != "verbose_json", "timestamp_granularities",
         "word timestamps need upstream_response_format: verbose_json"),
        (caps.upstream_streaming and not caps.streaming, "upstream_streaming",
         "upstream_streaming needs streaming: true"),
        (caps.logprobs and upstream != "json", "logprobs", "logprobs need upstream_response_format: json"),
        (caps.chunking_required_over_seconds is not None and not caps.chunking, "chunking_required_over_seconds",
         "chunking_required_over_seconds needs chunking: true"),
        (caps.diarization and upstream != "diarized_json", "diarization",
         "diarization needs upstream_response_format: diarized_json"),
        ("diarized_json" in caps.response_formats and not caps.diarization, "response_formats",
         "diarized_json needs diarization: true"),
        (upstream == "diarized_json" and not caps.diarization, "upstream_response_format",
         "upstream_response_format diarized_json needs diarization: true"),
    ]
    for broken, key, message in needs:
        if broken:
            problems.append(located.problem(message, "capabilities", key))


def _collect(sources: Iterable[SourceFile], problems: list[CatalogProblem]):
    """Decoded providers, voice sets, models and virtual models (an entry with no provider), by name."""
    providers: dict[str, _Located] = {}
    voice_sets: dict[str, _Located] = {}
    models: dict[str, _Located] = {}
    virtuals: dict[str, _Located] = {}
    for source in sources:
        data = source.data or {}
        for section, type_, into in (("providers", Provider, providers), ("voice_sets", VoiceSet, voice_sets)):
            for name, raw in (data.get(section) or {}).items():
                path = (section, name)
                if name in into:
                    problems.append(source.problem(path, f"{section[:-1].replace('_', ' ')} {name!r} is already defined in {into[name].source.name}"))
                    continue
                fields = _provider_fields(raw, name) if section == "providers" else {**raw, "name": name}
                value = _decode(fields, type_, (source, path), problems)
                if value is not None:
                    into[name] = _Located(value, source, path)
        for index, raw in enumerate(data.get("models") or []):
            path = ("models", index)
            earlier = models.get(raw["id"]) or virtuals.get(raw["id"])
            if earlier is not None:
                problems.append(source.problem(path + ("id",), f"model {raw['id']!r} is already defined in {earlier.source.name}"))
                continue
            if "provider" not in raw:  # the schema let it through: it has a routing block
                virtual = _decode(raw, VirtualModelSpec, (source, path), problems)
                if virtual is not None:
                    virtuals[raw["id"]] = _Located(virtual, source, path)
                continue
            value = _decode(_normalise_billing(raw), Model, (source, path), problems)
            if value is not None:
                models[raw["id"]] = _Located(value, source, path)
    _drop_disabled(providers, models, virtuals)
    return providers, voice_sets, models, virtuals


def _check_voice_sets(voice_sets: Mapping[str, _Located], problems: list[CatalogProblem]) -> None:
    for located in voice_sets.values():
        vs: VoiceSet = located.value
        if vs.default not in vs.voices:
            problems.append(located.problem(f"default voice {vs.default!r} is not one of its voices", "default"))
        for foreign, native in vs.map.items():
            if native not in vs.voices:
                problems.append(located.problem(f"maps {foreign!r} to {native!r}, which is not one of its voices", "map", foreign))


def _check_aliases(entries: Mapping[str, _Located], known_ids: Iterable[str], aliases: dict[str, str],
                   problems: list[CatalogProblem]) -> None:
    ids = set(known_ids)
    for model_id, located in entries.items():
        for alias_index, alias in enumerate(located.value.aliases):
            if alias in ids:
                problems.append(located.problem(f"alias {alias!r} is also a model id", "aliases", alias_index))
            elif alias in aliases:
                problems.append(located.problem(f"alias {alias!r} is already used by {aliases[alias]!r}", "aliases", alias_index))
            else:
                aliases[alias] = model_id


def _check_routing(models: Mapping[str, _Located], virtuals: Mapping[str, _Located],
                   problems: list[CatalogProblem]) -> None:
    """Routing blocks of real and virtual models name real models of their kind (catalog/routing.py)."""
    real = {model_id: located.value for model_id, located in models.items()}
    virtual_ids = {model_id: located.value.kind for model_id, located in virtuals.items()}
    for located, is_virtual in [*((loc, False) for loc in models.values()), *((loc, True) for loc in virtuals.values())]:
        spec: RoutingSpec | None = located.value.routing
        if spec is None:
            continue

        def report(message: str, path: tuple[str | int, ...], located: _Located = located) -> None:
            problems.append(located.problem(message, *path))

        check_routing(located.value.id, located.value.kind, spec, virtual=is_virtual, models=real,
                      virtual_ids=virtual_ids, report=report)


def _check_models(
    models: Mapping[str, _Located],
    providers: Mapping[str, _Located],
    voice_sets: Mapping[str, _Located],
    problems: list[CatalogProblem],
    virtuals: Mapping[str, _Located],
) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for model_id, located in models.items():
        model: Model = located.value
        _check_billing(located, problems)
        if model.provider not in providers:
            problems.append(located.problem(f"provider {model.provider!r} is not defined (known: {sorted(providers)})", "provider"))
        if isinstance(model, TtsModel):
            if model.voices not in voice_sets:
                problems.append(located.problem(f"voice set {model.voices!r} is not defined (known: {sorted(voice_sets)})", "voices"))
            speed = model.capabilities.speed
            if speed.min > speed.max:
                problems.append(located.problem("speed.min is greater than speed.max", "capabilities", "speed"))
        elif isinstance(model, SttModel):
            _check_stt_capabilities(located, problems)
        for fb_index, fallback in enumerate(model.fallbacks):
            target = models.get(fallback.model)
            if fallback.model == model_id:
                problems.append(located.problem("a model cannot fall back to itself", "fallbacks", fb_index, "model"))
            elif fallback.model in virtuals:
                problems.append(located.problem(f"{fallback.model!r} is a virtual model (no provider of its own); "
                                                "fall back to a real model", "fallbacks", fb_index, "model"))
            elif target is None:
                problems.append(located.problem(f"fallback model {fallback.model!r} is not defined", "fallbacks", fb_index, "model"))
            elif target.value.kind != model.kind:
                problems.append(located.problem(f"fallback {fallback.model!r} is {target.value.kind}, not {model.kind}", "fallbacks", fb_index, "model"))
    all_ids = [*models, *virtuals]
    _check_aliases(models, all_ids, aliases, problems)
    _check_aliases(virtuals, all_ids, aliases, problems)
    return aliases


def _check_cycles(models: Mapping[str, _Located], problems: list[CatalogProblem]) -> None:
    """Fallback chains are followed transitively, so a cycle anywhere would loop."""
    state: dict[str, str] = {}

    def visit(model_id: str, trail: list[str]) -> None:
        if state.get(model_id) == "done" or model_id not in models:
            return
        if state.get(model_id) == "active":
            cycle = trail[trail.index(model_id):] + [model_id]
            located = models[trail[-1]]
            problems.append(located.problem("fallback cycle: " + " -> ".join(cycle), "fallbacks"))
            return
        state[model_id] = "active"
        for fallback in models[model_id].value.fallbacks:
            visit(fallback.model, trail + [model_id])
        state[model_id] = "done"

    for model_id in models:
        visit(model_id, [])


def _chain(model: Model, models: Mapping[str, Model]) -> list[Model]:
    """Primary first, then fallbacks by priority, each followed by its own fallbacks (depth-first, no repeats)."""
    order: list[Model] = []

    def walk(current: Model) -> None:
        if any(m.id == current.id for m in order):
            return
        order.append(current)
        for fallback in sorted(current.fallbacks, key=lambda f: f.priority):
            walk(models[fallback.model])

    walk(model)
    return order


def compile_plan(
    sources: Iterable[SourceFile],
    validator: jsonschema.Draft202012Validator,
    known_adapters: Iterable[str],
    *,
    overrides: ProviderOverrides = ProviderOverrides(),
) -> Plan:
    """Validate, cross-check and index the catalog; raise `CatalogInvalid` listing every problem.

    Pure: whether this machine can run a provider (a key, an installed engine) is the adapter registry's
    question at start-up (`providers.unavailable_reason`), not the catalog's."""
    sources = list(sources)
    problems: list[CatalogProblem] = []
    for source in sources:
        problems.extend(schema_problems(source, validator))
    if problems:
        raise CatalogInvalid(problems)

    providers, voice_sets, models, virtuals = _collect(sources, problems)
    known = set(known_adapters)
    for located in providers.values():
        provider: Provider = located.value
        if provider.adapter not in known:
            problems.append(located.problem(f"unknown adapter {provider.adapter!r} (known: {sorted(known)})", "adapter"))
        if provider.base_url and not provider.base_url.startswith(("http://", "https://")):
            problems.append(located.problem(f"base_url {provider.base_url!r} is not an http(s) URL", "base_url"))
    _check_voice_sets(voice_sets, problems)
    aliases = _check_models(models, providers, voice_sets, problems, virtuals)
    _check_routing(models, virtuals, problems)
    _check_cycles(models, problems)
    if not models and not problems:
        problems.append(CatalogProblem(file="catalog", path=("models",), message="the catalog defines no models"))
    if problems:
        raise CatalogInvalid(problems)

    compiled_providers = {name: overrides.apply(loc.value) for name, loc in providers.items()}
    compiled_voice_sets = {name: loc.value for name, loc in voice_sets.items()}
    by_id = {model_id: loc.value for model_id, loc in models.items()}
    chains = {
        model_id: tuple(
            Target(
                model=step,
                provider=compiled_providers[step.provider],
                voice_set=compiled_voice_sets[step.voices] if isinstance(step, TtsModel) else None,
            )
            for step in _chain(model, by_id)
        )
        for model_id, model in by_id.items()
    }
    routes = {}
    for model_id, model in by_id.items():
        if model.routing is None:
            routes[model_id] = Route(model=model, targets=chains[model_id])
        else:
            routing, order = routing_plan(model.routing, chains[model_id], chains.__getitem__)
            routes[model_id] = Route(model=model, targets=order, routing=routing)
    for model_id, located in virtuals.items():
        spec: VirtualModelSpec = located.value
        routing, order = routing_plan(spec.routing, (), chains.__getitem__)
        routes[model_id] = Route(model=virtual_face(spec, routing, order), targets=order, routing=routing)
    return Plan(
        providers=MappingProxyType(compiled_providers),
        voice_sets=MappingProxyType(compiled_voice_sets),
        routes=MappingProxyType(routes),
        aliases=MappingProxyType(aliases),
    )
