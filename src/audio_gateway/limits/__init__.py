"""Budgets and rate limits: one `LimitStore` interface, in-process or in Redis, and the request-time guard."""

from .model import Dimension, RateRule, RateState, RateVerdict, Reserved, Settled
from .store import LimitStore

__all__ = ["Dimension", "LimitStore", "RateRule", "RateState", "RateVerdict", "Reserved", "Settled"]
