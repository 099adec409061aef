"""What of a provider's error message may be relayed: never its verdict on our account, never the key.

Upstream messages reach clients (`error.attempts[].reason`, 4xx pass-through). A 401 or 403 is about
the gateway's own credentials or account: OpenAI's 401 text quotes part of the key (`sk-pr****6789`)
and its 403 names the organisation or project, so both are replaced; any other message has the key
cut out in case a provider echoes it.
"""

from __future__ import annotations

__all__ = ["CREDENTIALS_REFUSED", "ACCESS_REFUSED", "safe_message"]

CREDENTIALS_REFUSED = "the provider refused the gateway's API key (the gateway operator must check it)"
ACCESS_REFUSED = "the provider refused the gateway's account access to this model or region (the operator must check it)"


def safe_message(status: int, message: str, api_key: str) -> str:
    if status == 401:
        return CREDENTIALS_REFUSED
    if status == 403:
        return ACCESS_REFUSED
    return message.replace(api_key, "<redacted>") if api_key else message
