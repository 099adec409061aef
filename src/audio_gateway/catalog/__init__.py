"""The model catalog: YAML under catalog/ → JSON Schema → cross-checks → immutable Plan."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import msgspec

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
    "load_plan", "load_catalog", "LoadedCatalog", "compile_plan", "CatalogInvalid", "CatalogProblem", "Plan", "Route",
    "Target", "Model", "TtsModel", "SttModel", "Provider", "LocalEngines", "ProviderOverrides", "VoiceSet",
    "BillingComponent",
    "TtsCapabilities", "SttCapabilities",
]


class LoadedCatalog(msgspec.Struct, frozen=True):
    """A compiled catalog and which one it is: `version` is the content hash of the files compiled."""

    plan: Plan
    version: str
    loaded_at: datetime


def load_catalog(
    directory: Path,
    env: Mapping[str, str],
    known_adapters: Iterable[str],
    *,
    overrides: ProviderOverrides = ProviderOverrides(),
    schema_path: Path | None = None,
) -> LoadedCatalog:
    """`load_plan`, also saying which content was compiled: the first 16 hex digits of a sha256 over each
    file's name and bytes (what was read, not the environment: secrets never enter it)."""
    problems: list[CatalogProblem] = []
    digest = hashlib.sha256()
    sources = read_catalog_dir(directory, env, problems, digest.update)
    if problems:
        raise CatalogInvalid(problems)
    validator = load_validator(schema_path or default_schema_path(directory))
    plan = compile_plan(sources, validator, known_adapters, overrides=overrides)
    return LoadedCatalog(plan=plan, version=digest.hexdigest()[:16], loaded_at=datetime.now(UTC))


def load_plan(
    directory: Path,
    env: Mapping[str, str],
    known_adapters: Iterable[str],
    *,
    overrides: ProviderOverrides = ProviderOverrides(),
    schema_path: Path | None = None,
) -> Plan:
    """Read, validate and compile a catalog directory; raises `CatalogInvalid` with every problem."""
    return load_catalog(directory, env, known_adapters, overrides=overrides, schema_path=schema_path).plan
