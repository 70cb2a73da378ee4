"""Instrumentation of LLM client packages: every call through `openai` or `anthropic` becomes a
child span of the active trace, with the OTel GenAI semconv attributes (model, tokens, messages).

`casebank.init(instrument=True)` calls `instrument_installed()`; `instrument_openai()`,
`instrument_anthropic()` and `uninstrument()` give explicit control, and `wrap(client)`
instruments one client instance instead of the package. Covered: OpenAI chat completions
(`create`, `parse`, the `stream` helper), the Responses API (`create`, `parse`, `stream`) and
embeddings; Anthropic `messages.create` and the `messages.stream` helper; sync and async, plain
and streamed.

This module stays light: wrapt and the client packages load only when something is
instrumented, and a client package's modules are patched when the app itself loads them.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

__all__ = ["instrument_anthropic", "instrument_installed", "instrument_openai", "uninstrument", "wrap"]

SUPPORTED = ("openai", "anthropic")

logger = logging.getLogger("casebank")
C = TypeVar("C")


def instrument_openai(*, stream_usage: bool = True) -> bool:
    """Instrument the `openai` package (all clients). False if it is not installed.

    `stream_usage`: ask for token usage in chat completion streams when the caller did not; the
    extra usage chunk is kept from the app (see `casebank.integrations._openai_chat`)."""
    try:
        from casebank.integrations import _openai_chat

        _openai_chat.stream_usage = stream_usage
    except Exception as exc:
        logger.warning("casebank: could not instrument openai - %r", exc)
        return False
    return _instrument("openai")


def instrument_anthropic() -> bool:
    """Instrument the `anthropic` package (all clients). False if it is not installed."""
    return _instrument("anthropic")


def instrument_installed(names: list[str] | None = None) -> list[str]:
    """Instrument every supported client package that is installed (or those in `names`);
    returns the names instrumented. An unknown name is logged and skipped."""
    done = []
    for name in SUPPORTED if names is None else names:
        if name not in SUPPORTED:
            logger.warning("casebank: no instrumentation for %r (supported: %s)", name, ", ".join(SUPPORTED))
        elif _instrument(name):
            done.append(name)
    return done


def _instrument(package: str) -> bool:
    try:
        from casebank.integrations import _patch

        return _patch.instrument(package)
    except Exception as exc:
        logger.warning("casebank: could not instrument %s - %r", package, exc)
        return False


def uninstrument() -> None:
    """Remove all casebank instrumentation; the SDKs' original methods are put back."""
    import sys

    patch = sys.modules.get("casebank.integrations._patch")
    if patch is not None:  # nothing was ever instrumented otherwise
        patch.uninstrument()


def wrap(client: C) -> C:
    """Instrument one `openai`/`anthropic` client instance (no global patching); returns it."""
    try:
        from casebank.integrations import _patch

        wrapped: Any = _patch.wrap(client)
        return wrapped  # type: ignore[no-any-return]
    except Exception as exc:
        logger.warning("casebank: could not wrap %r - %r", type(client).__name__, exc)
        return client
