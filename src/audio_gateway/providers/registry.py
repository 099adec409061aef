"""Adapter strategies by the name a catalog provider's `adapter:` field uses."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import httpx

from ..catalog.model import Provider
from .base import Adapter
from .openai import OpenAIAdapter
from .siliconflow import SiliconFlowAdapter

__all__ = ["ADAPTERS", "build_adapter"]

ADAPTERS: Mapping[str, type] = MappingProxyType({"openai": OpenAIAdapter, "siliconflow": SiliconFlowAdapter})


def build_adapter(provider: Provider, client: httpx.AsyncClient) -> Adapter:
    return ADAPTERS[provider.adapter](provider, client)
