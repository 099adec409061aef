"""Values worked out once per object and found by the object's identity (pure, per instance).

For the frozen values every request of a key or a model hands over as the very same object (a key's
limits, a model's billing tuple): `id()` is cheaper than hashing them. Each entry holds its object, so
an id cannot be reused while its entry stands; a catalog reload or a key update brings new objects,
and the table is forgotten wholesale past `limit` entries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ByIdentity"]

K = TypeVar("K")
V = TypeVar("V")


class ByIdentity(Generic[K, V]):
    def __init__(self, build: Callable[[K], V], *, limit: int = 4096):
        self._build = build
        self._limit = limit
        self._found: dict[int, tuple[K, V]] = {}

    def __call__(self, key: K) -> V:
        found = self._found.get(id(key))
        if found is None or found[0] is not key:
            if len(self._found) >= self._limit:
                self._found.clear()
            found = self._found[id(key)] = (key, self._build(key))
        return found[1]
