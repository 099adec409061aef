"""What of a provider's error message may be relayed: never its verdict on our key, never the key itself.

Upstream messages reach clients (`error.attempts[].reason`, 4xx pass-through). A 401 is about the
gateway's own credentials, and OpenAI's text for it quotes part of the key (`sk-pr****6789`), so its
message is replaced; any other message has the key cut out in case a provider echoes it.
"""

from __future__ import annotations

__all__ = ["CREDENTIALS_REFUSED", "safe_message"]

CREDENTIALS_REFUSED = "the provider refused the gateway's API key (the gateway operator must check it)"


def safe_message(status: int, message: str, api_key: str) -> str:
    if status == 401:
        return CREDENTIALS_REFUSED
    return message.replace(api_key, "<redacted>") if api_key else message
