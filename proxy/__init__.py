"""Sluice: a rate-limiting and query-shaping reverse proxy for LLM APIs."""

__version__ = "0.2.0"
