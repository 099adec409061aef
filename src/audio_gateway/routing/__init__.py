"""Routing: which failures fall back (policy), per-provider circuit breakers, and the loop that tries targets."""

from .breaker import Breaker, Breakers, BreakerView
from .fallback import Attempt, AttemptEnd, AttemptObserver, Outcome, Served, Unsuitable, serve_first
from .policy import counts_against_provider, falls_back

__all__ = ["Attempt", "AttemptEnd", "AttemptObserver", "Outcome", "Breaker", "Breakers", "BreakerView", "Served", "Unsuitable", "serve_first", "falls_back",
           "counts_against_provider"]
