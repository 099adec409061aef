"""What an operator asks for (CLI flags or the HTTP body), checked in one pure function per operation.

Both front ends build a `KeyCreate` or `KeyPatch` and call `limits_for` / `patched`; a problem is a
`KeyInputError` naming the field, raised before anything is written. In a patch a field left out is
kept and `null` clears it (msgspec's UNSET tells the two apart).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from decimal import Decimal

import msgspec

from .model import PERIODS, KeyLimits

__all__ = ["KeyCreate", "KeyPatch", "KeyInputError", "limits_for", "patched", "check_name", "MAX_BUDGET_USD"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Budgets are counted in whole nano-dollars by the limit stores (exact integers in Redis's Lua up to 2^53).
MAX_BUDGET_USD = Decimal(9_000_000)
_MAX_RATE = 1_000_000_000


class KeyInputError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class KeyCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    admin: bool = False
    models: list[str] | None = None
    budget_usd: Decimal | None = None
    budget_period: str | None = None
    rpm: int | None = None
    characters_per_minute: int | None = None
    audio_seconds_per_minute: int | None = None


class KeyPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    admin: bool | msgspec.UnsetType = msgspec.UNSET
    models: list[str] | None | msgspec.UnsetType = msgspec.UNSET
    budget_usd: Decimal | None | msgspec.UnsetType = msgspec.UNSET
    budget_period: str | None | msgspec.UnsetType = msgspec.UNSET
    rpm: int | None | msgspec.UnsetType = msgspec.UNSET
    characters_per_minute: int | None | msgspec.UnsetType = msgspec.UNSET
    audio_seconds_per_minute: int | None | msgspec.UnsetType = msgspec.UNSET


def check_name(name: str, reserved: Collection[str] = ()) -> str:
    if not _NAME.match(name):
        raise KeyInputError("name", f"must be 1-64 characters of letters, digits, `.`, `_` or `-`, starting with a "
                                    f"letter or digit; got {name!r}")
    if name in reserved:
        raise KeyInputError("name", f"{name!r} is already the name of a key in AUDIO_GATEWAY_API_KEYS / _ADMIN_KEYS")
    return name


def _models(names: list[str] | None, resolve: Callable[[str], str | None]) -> tuple[str, ...] | None:
    if names is None:
        return None
    canonical = []
    for name in names:
        model = resolve(name.strip())
        if model is None:
            raise KeyInputError("models", f"unknown model {name!r} (GET /v1/models lists them)")
        canonical.append(model)
    if not canonical:
        raise KeyInputError("models", "name at least one model, or leave the field out for every model")
    return tuple(dict.fromkeys(canonical))


def _rate(field: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not 1 <= value <= _MAX_RATE):
        raise KeyInputError(field, f"must be a whole number from 1 to {_MAX_RATE}, got {value}")
    return value


def _checked(limits: KeyLimits, resolve: Callable[[str], str | None], *, models_changed: bool = True) -> KeyLimits:
    budget, period = limits.budget_usd, limits.budget_period
    if budget is not None:
        if not budget.is_finite() or budget < 0:
            raise KeyInputError("budget_usd", f"must be a non-negative amount of dollars, got {budget}")
        if budget > MAX_BUDGET_USD:
            raise KeyInputError("budget_usd", f"must be at most {MAX_BUDGET_USD}, got {budget}")
        if budget.as_tuple().exponent < -9:  # type: ignore[operator]
            raise KeyInputError("budget_usd", f"has more than 9 decimal places: {budget}")
        period = period or "month"
    if period is not None and period not in PERIODS:
        raise KeyInputError("budget_period", f"must be one of {', '.join(PERIODS)}; got {period!r}")
    if period is not None and budget is None:
        raise KeyInputError("budget_period", "needs budget_usd")
    models = limits.models
    if models is not None and models_changed:
        models = _models(list(models), resolve)
    return KeyLimits(models=models,
                     budget_usd=budget, budget_period=period,
                     rpm=_rate("rpm", limits.rpm),
                     characters_per_minute=_rate("characters_per_minute", limits.characters_per_minute),
                     audio_seconds_per_minute=_rate("audio_seconds_per_minute", limits.audio_seconds_per_minute))


def limits_for(spec: KeyCreate, resolve: Callable[[str], str | None]) -> KeyLimits:
    """The limits a new key gets; `resolve` maps a model name or alias to its catalog id (None: unknown)."""
    if spec.models is not None and not spec.models:
        raise KeyInputError("models", "name at least one model, or leave the field out for every model")
    return _checked(KeyLimits(models=tuple(spec.models) if spec.models is not None else None,
                              budget_usd=spec.budget_usd, budget_period=spec.budget_period,  # type: ignore[arg-type]
                              rpm=spec.rpm, characters_per_minute=spec.characters_per_minute,
                              audio_seconds_per_minute=spec.audio_seconds_per_minute), resolve)


def patched(current: KeyLimits, patch: KeyPatch, resolve: Callable[[str], str | None]) -> KeyLimits:
    """The limits after a patch, checked whole (a patch cannot leave a period without a budget)."""
    changes = {name: getattr(patch, name) for name in KeyLimits.__struct_fields__
               if getattr(patch, name, msgspec.UNSET) is not msgspec.UNSET}
    if "models" in changes and changes["models"] is not None:
        if not changes["models"]:
            raise KeyInputError("models", "name at least one model, or null for every model")
        changes["models"] = tuple(changes["models"])
    if changes.get("budget_usd", msgspec.UNSET) is None and "budget_period" not in changes:
        changes["budget_period"] = None   # clearing the budget clears its period
    return _checked(msgspec.structs.replace(current, **changes), resolve, models_changed="models" in changes)
