"""Routing: which failures fall back (policy), per-provider circuit breakers, the loop that tries targets,
and the policy router that orders a routed model's targets per request (router, content, latency)."""

from .breaker import Breaker, Breakers, BreakerView
from .fallback import Attempt, AttemptEnd, AttemptObserver, Outcome, Served, Unsuitable, serve_first
from .latency import LatencyStats, LatencyView
from .policy import counts_against_provider, falls_back
from .router import CHAIN, Decision, ProviderState, RouteFacts, decide

__all__ = ["Attempt", "AttemptEnd", "AttemptObserver", "Outcome", "Breaker", "Breakers", "BreakerView", "Served",
           "Unsuitable", "serve_first", "falls_back", "counts_against_provider", "LatencyStats", "LatencyView", "CHAIN",
           "Decision", "ProviderState", "RouteFacts", "decide"]
