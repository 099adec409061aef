"""The `usage` a transcript reports to the client, in the shape of what the serving model bills.

A model priced in tokens reports OpenAI's token usage (the settled figures: the provider's own where it
reported them, the catalog's estimate otherwise); any other reports the billed whole seconds, as
whisper-1 does. So `usage` says what the client pays for, whichever model served.
"""

from __future__ import annotations

from ..audio import DurationUsage, TokenUsage, UsageReport
from ..billing import Unit, Usage
from ..catalog.model import Model

__all__ = ["usage_report", "TOKEN_UNITS"]

TOKEN_UNITS = frozenset({Unit.AUDIO_INPUT_TOKEN, Unit.INPUT_TOKEN, Unit.OUTPUT_TOKEN})


def _whole(usage: Usage, unit: Unit) -> int:
    return int(usage.get(unit) or 0)


def usage_report(model: Model, usage: Usage, billed_seconds: int) -> UsageReport:
    if any(component.unit in TOKEN_UNITS for component in model.billing):
        return TokenUsage.of(audio_tokens=_whole(usage, Unit.AUDIO_INPUT_TOKEN),
                             text_tokens=_whole(usage, Unit.INPUT_TOKEN),
                             output_tokens=_whole(usage, Unit.OUTPUT_TOKEN))
    return DurationUsage(seconds=billed_seconds)
