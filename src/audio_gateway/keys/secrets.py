"""Key secrets: `sk-gw-` and 43 URL-safe characters from 32 random bytes (256 bits); only the digest is kept.

SHA-256 without a salt is enough here (unlike for passwords): the secret is 256 random bits, so there
is nothing to guess, and one unsalted digest is what lets a request find its key in one dict look-up.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["new_secret", "digest_of", "PREFIX"]

PREFIX = "sk-gw-"


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
