"""The one list of billing units. Everything else that names a unit is derived from it.

The catalog schema's unit enums (`schema/catalog.schema.json`, checked by a test), the catalog
cross-checks, `catalog show` labels, `/v1/models` pricing, the ledger's flattened totals and the
decision of which units a provider must report all read `UNITS`. A new unit is one `Unit` member,
one `UnitSpec` entry here and, when the gateway measures it itself, a case in `measure.py`.

Where a quantity comes from (`Source`):
- `text`: the gateway counts it in the request's text before any call (so budgets can reserve it);
- `audio`: the gateway measures the probed upload before any call;
- `provider`: only the provider knows it, after the call; a catalog component priced on it must
  declare an `estimate` (used when the provider reports nothing, and for budget reservations);
- `count`: one per request.
A `text` unit that the provider also reports (`restated`) takes the provider's figure when there is
one: that is what its invoice will say.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

import msgspec

__all__ = ["Unit", "Source", "UnitSpec", "UNITS", "UNIT_ALIASES", "ModelKind", "units_for", "schema_unit_names"]

ModelKind = Literal["tts", "stt"]


class Unit(StrEnum):
    CHARACTER = "character"
    UTF8_BYTE = "utf8_byte"
    INPUT_TOKEN = "input_token"
    AUDIO_INPUT_TOKEN = "audio_input_token"
    OUTPUT_TOKEN = "output_token"
    SECOND = "second"
    REQUEST = "request"


class Source(StrEnum):
    TEXT = "text"
    AUDIO = "audio"
    PROVIDER = "provider"
    COUNT = "count"


class UnitSpec(msgspec.Struct, frozen=True, kw_only=True):
    unit: Unit
    label: str                               # plural, for prices: "$15 / 1M chars"
    ledger_total: str                        # the LedgerRow field that totals it
    sources: Mapping[str, Source]            # model kind → how it is measured; absent kinds may not price it
    restated: bool = False                   # the provider reports it too, and its figure wins
    integral: bool = True                    # whole units (tokens, bytes); seconds are fractional


UNITS: Mapping[Unit, UnitSpec] = MappingProxyType({
    spec.unit: spec for spec in (
        UnitSpec(unit=Unit.CHARACTER, label="chars", ledger_total="characters", sources={"tts": Source.TEXT}),
        UnitSpec(unit=Unit.UTF8_BYTE, label="UTF-8 bytes", ledger_total="utf8_bytes", sources={"tts": Source.TEXT}),
        # TTS: the input and instructions, o200k-counted offline; STT: the prompt. OpenAI restates both.
        UnitSpec(unit=Unit.INPUT_TOKEN, label="input tokens", ledger_total="input_tokens",
                 sources={"tts": Source.TEXT, "stt": Source.TEXT}, restated=True),
        UnitSpec(unit=Unit.AUDIO_INPUT_TOKEN, label="audio input tokens", ledger_total="audio_input_tokens",
                 sources={"stt": Source.PROVIDER}),
        # TTS: audio tokens out (gpt-4o-mini-tts); STT: transcript tokens out (gpt-4o-transcribe).
        UnitSpec(unit=Unit.OUTPUT_TOKEN, label="output tokens", ledger_total="output_tokens",
                 sources={"tts": Source.PROVIDER, "stt": Source.PROVIDER}),
        UnitSpec(unit=Unit.SECOND, label="seconds", ledger_total="audio_seconds", sources={"stt": Source.AUDIO},
                 integral=False),
        UnitSpec(unit=Unit.REQUEST, label="requests", ledger_total="requests",
                 sources={"tts": Source.COUNT, "stt": Source.COUNT}),
    )
})

# Catalog sugar compiled away before pricing: a minute is a second with a 60× larger `per`.
UNIT_ALIASES: Mapping[str, tuple[Unit, int]] = MappingProxyType({"minute": (Unit.SECOND, 60)})


def units_for(kind: str) -> tuple[Unit, ...]:
    """The units a model of `kind` may be priced in, in registry order."""
    return tuple(unit for unit, spec in UNITS.items() if kind in spec.sources)


def schema_unit_names(kind: str | None = None) -> list[str]:
    """The unit names the catalog schema accepts (aliases included), for one kind or for any."""
    units = units_for(kind) if kind else tuple(UNITS)
    aliases = [alias for alias, (unit, _) in UNIT_ALIASES.items() if unit in units]
    names = [str(unit) for unit in units]
    for alias in aliases:  # keep the alias next to its unit, as an operator reads the enum
        names.insert(names.index(str(UNIT_ALIASES[alias][0])) + 1, alias)
    return names
