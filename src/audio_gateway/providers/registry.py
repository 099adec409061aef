"""Adapter strategies by the name a catalog provider's `adapter:` field uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from ..catalog.model import Provider
from .base import Adapter
from .local import LocalAdapter, engines_problem
from .openai import OpenAIAdapter
from .siliconflow import SiliconFlowAdapter
from .upstream import Upstream

__all__ = ["ADAPTERS", "build_adapter", "probe_provider"]

ADAPTERS: Mapping[str, Callable[[Upstream], Adapter]] = MappingProxyType({
    "openai": OpenAIAdapter,
    "siliconflow": SiliconFlowAdapter,
    "local": lambda upstream: LocalAdapter(upstream.provider),   # runs on this machine: no HTTP
})


def build_adapter(upstream: Upstream) -> Adapter:
    return ADAPTERS[upstream.provider.adapter](upstream)


def probe_provider(provider: Provider) -> str:
    """Why this machine cannot run `provider` ('' if it can): only local engines can be missing."""
    if provider.local is not None:
        return engines_problem(provider.local)
    return ""
