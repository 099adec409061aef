"""Unified billing: measured usage × catalog billing components → exact Decimal cost."""

from .pricing import Charge, ChargeLine, Usage, decimal_text, price, round_seconds
from .measure import speech_usage, count_tokens

__all__ = ["Charge", "ChargeLine", "Usage", "decimal_text", "price", "round_seconds", "speech_usage", "count_tokens"]
