"""OpenAI-compatible audio gateway."""

__version__ = "0.1.0"
