"""The `usage` object a transcript carries, in OpenAI's two wire shapes.

Models billed by audio length report `{"type": "duration", "seconds": N}`; models billed by tokens
(gpt-4o-transcribe) report `{"type": "tokens", "input_tokens", "input_token_details": {"text_tokens",
"audio_tokens"}, "output_tokens", "total_tokens"}`. Both are tagged Structs, so they encode with
`type` first and OpenAI's key order, in json bodies and in `transcript.text.done` events alike.
"""

from __future__ import annotations

import msgspec

__all__ = ["DurationUsage", "TokenDetails", "TokenUsage", "UsageReport"]


class DurationUsage(msgspec.Struct, frozen=True, tag_field="type", tag="duration"):
    seconds: int


class TokenDetails(msgspec.Struct, frozen=True):
    text_tokens: int
    audio_tokens: int


class TokenUsage(msgspec.Struct, frozen=True, tag_field="type", tag="tokens"):
    input_tokens: int
    input_token_details: TokenDetails
    output_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, *, audio_tokens: int, text_tokens: int, output_tokens: int) -> TokenUsage:
        """Totals derived from the three billed quantities, so they always add up."""
        input_tokens = audio_tokens + text_tokens
        return cls(input_tokens=input_tokens,
                   input_token_details=TokenDetails(text_tokens=text_tokens, audio_tokens=audio_tokens),
                   output_tokens=output_tokens, total_tokens=input_tokens + output_tokens)


UsageReport = DurationUsage | TokenUsage
