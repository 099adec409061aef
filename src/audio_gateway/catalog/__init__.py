"""The model catalog: YAML under catalog/ → JSON Schema → cross-checks → immutable Plan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from .compile import compile_plan
from .model import (
    BillingComponent,
    LocalEngines,
    Model,
    Plan,
    Provider,
    ProviderOverrides,
    Route,
    SttCapabilities,
    SttModel,
    Target,
    TtsCapabilities,
    TtsModel,
    VoiceSet,
)
from .problems import CatalogInvalid, CatalogProblem
from .schema import default_schema_path, load_validator
from .source import read_catalog_dir

__all__ = [
    "load_plan", "compile_plan", "CatalogInvalid", "CatalogProblem", "Plan", "Route", "Target",
    "Model", "TtsModel", "SttModel", "Provider", "LocalEngines", "ProviderOverrides", "VoiceSet", "BillingComponent",
    "TtsCapabilities", "SttCapabilities",
]


def load_plan(
    directory: Path,
    env: Mapping[str, str],
    known_adapters: Iterable[str],
    *,
    overrides: ProviderOverrides = ProviderOverrides(),
    schema_path: Path | None = None,
) -> Plan:
    """Read, validate and compile a catalog directory; raises `CatalogInvalid` with every problem."""
    problems: list[CatalogProblem] = []
    sources = read_catalog_dir(directory, env, problems)
    if problems:
        raise CatalogInvalid(problems)
    validator = load_validator(schema_path or default_schema_path(directory))
    return compile_plan(sources, validator, known_adapters, overrides=overrides)
