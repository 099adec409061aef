"""Adapter strategies by the name a catalog provider's `adapter:` field uses.

Each entry says how to build the adapter for one provider (HTTP providers: a translator over the shared
runner and a pooled `Upstream`) and whether it can serve at all; the catalog's cross-check reads the
names from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Protocol

import msgspec

from ..catalog.model import LocalEngines, Provider
from .base import Adapter
from .local import LocalAdapter, engines_problem
from .openai import OpenAITranslator
from .runner import HttpAdapter
from .siliconflow import SiliconFlowTranslator
from .translator import Translator
from .upstream import Upstream

__all__ = ["ADAPTERS", "AdapterKind", "ClosableAdapter", "build_adapter", "unavailable_reason"]


class ClosableAdapter(Adapter, Protocol):
    async def aclose(self) -> None: ...


class AdapterKind(msgspec.Struct, frozen=True):
    build: Callable[[Provider], ClosableAdapter]
    # Why this provider cannot be called at all (None when it can): skipped by routing, shown in /readyz.
    unavailable: Callable[[Provider], str | None]


class _Http:
    """An HTTP provider: `translator` over the shared runner, one pooled upstream per provider."""

    def __init__(self, translator: Callable[[], Translator]):
        self._translator = translator

    def __call__(self, provider: Provider) -> ClosableAdapter:
        return _ClosingHttpAdapter(Upstream(provider), self._translator())


class _ClosingHttpAdapter(HttpAdapter):
    async def aclose(self) -> None:
        await self.upstream.aclose()


def _needs_key(provider: Provider) -> str | None:
    return None if provider.configured else provider.not_configured_reason


def _local_engines(provider: Provider) -> str | None:
    """The engines run on this machine: whether their packages and model are installed (a cheap look-up)."""
    return engines_problem(provider.local or LocalEngines()) or None


ADAPTERS: Mapping[str, AdapterKind] = MappingProxyType({
    "openai": AdapterKind(build=_Http(OpenAITranslator), unavailable=_needs_key),
    "siliconflow": AdapterKind(build=_Http(SiliconFlowTranslator), unavailable=_needs_key),
    "local": AdapterKind(build=LocalAdapter, unavailable=_local_engines),   # no HTTP: worker processes here
})


def build_adapter(provider: Provider) -> ClosableAdapter:
    return ADAPTERS[provider.adapter].build(provider)


def unavailable_reason(provider: Provider) -> str | None:
    return ADAPTERS[provider.adapter].unavailable(provider)
