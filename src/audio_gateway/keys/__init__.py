"""API keys kept in the database: created, limited and revoked while the gateway runs."""

from .model import PERIODS, KeyLimits, KeyRecord, Period
from .secrets import digest_of, new_secret

__all__ = ["KeyLimits", "KeyRecord", "Period", "PERIODS", "digest_of", "new_secret"]
