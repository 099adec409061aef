"""Adapter strategies by the name a catalog provider's `adapter:` field uses."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .base import Adapter
from .openai import OpenAIAdapter
from .siliconflow import SiliconFlowAdapter
from .upstream import Upstream

__all__ = ["ADAPTERS", "build_adapter"]

ADAPTERS: Mapping[str, type] = MappingProxyType({"openai": OpenAIAdapter, "siliconflow": SiliconFlowAdapter})


def build_adapter(upstream: Upstream) -> Adapter:
    return ADAPTERS[upstream.provider.adapter](upstream)
