"""Routing: which failures fall back (policy) and the loop that tries targets (fallback)."""

from .fallback import Attempt, Served, Unsuitable, serve_first
from .policy import falls_back

__all__ = ["Attempt", "Served", "Unsuitable", "serve_first", "falls_back"]
