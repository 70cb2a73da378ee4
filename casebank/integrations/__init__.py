"""Instrumentation of LLM client packages (openai, anthropic, ...). Client packages are imported
only when instrumented, never by `import casebank`."""

from __future__ import annotations

__all__ = ["instrument_installed"]


def instrument_installed(names: list[str] | None = None) -> list[str]:
    """Instrument every supported client package that is installed (or those in `names`);
    returns the names instrumented. Filled in by issue 3."""
    return []
