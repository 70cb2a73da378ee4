"""Instrumentation of LLM client packages: every call through `openai`, `anthropic` or another
registered provider becomes a child span of the active trace, with the OTel GenAI semconv
attributes (model, tokens, messages).

`casebank.init(instrument=True)` calls `instrument_installed()`; `instrument_openai()`,
`instrument_anthropic()` and `uninstrument()` give explicit control, and `wrap(client)`
instruments one client instance instead of the package. Covered: OpenAI chat completions
(`create`, `parse`, the `stream` helper), the Responses API (`create`, `parse`, `stream`) and
embeddings; Anthropic `messages.create` and the `messages.stream` helper; sync and async, plain
and streamed.

A provider is one small module: its endpoints (`Endpoint`: how a call's request and answer
become attributes), its targets (`Target`: a method of an SDK class or a module-level function)
and a `register(Provider(...))` call; casebank's own are registered the same way (`_registry`).

This module stays light: wrapt, the client packages, the providers' modules and even the names
above load only when something uses them, and a client package's modules are patched when the
app itself loads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from casebank.integrations._provider import Endpoint, Provider, Target, resource_targets
    from casebank.integrations._registry import register

__all__ = [
    "Endpoint",
    "Provider",
    "Target",
    "instrument_anthropic",
    "instrument_installed",
    "instrument_openai",
    "register",
    "repeated_call_spans",
    "resource_targets",
    "uninstrument",
    "wrap",
]

logger = logging.getLogger("casebank")
C = TypeVar("C")

# What a provider module imports, loaded on first use: `import casebank` does not pay for it.
_FOR_PROVIDERS = {
    "Endpoint": "_provider",
    "Provider": "_provider",
    "Target": "_provider",
    "resource_targets": "_provider",
    "register": "_registry",
}


def __getattr__(name: str) -> Any:
    module = _FOR_PROVIDERS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
    """Instrument every registered provider whose package is installed (or those in `names`);
    returns the names instrumented. An unknown name is logged and skipped."""
    from casebank.integrations import _registry

    done = []
    for name in _registry.names() if names is None else names:
        if _instrument(name, unknown_is_logged=names is not None):
            done.append(name)
    return done


def _instrument(name: str, *, unknown_is_logged: bool = False) -> bool:
    try:
        from casebank.integrations import _patch, _registry

        provider = _registry.lookup(name)
        if provider is None:
            if unknown_is_logged:
                known = ", ".join(_registry.names())
                logger.warning("casebank: no instrumentation for %r (supported: %s)", name, known)
            return False
        return _patch.instrument(provider)
    except Exception as exc:
        logger.warning("casebank: could not instrument %s - %r", name, exc)
        return False


def repeated_call_spans() -> Callable[[ReadableSpan], bool]:
    """For capture on a provider casebank shares with the app: whether a finished span is another
    instrumentation's second span for an LLM call that casebank records itself, and so stays
    out of the store (see `casebank.integrations._duplicates`)."""
    from casebank.integrations._duplicates import repeats_a_call

    return repeats_a_call


def uninstrument() -> None:
    """Remove all casebank instrumentation; the original functions are put back."""
    import sys

    patch = sys.modules.get("casebank.integrations._patch")
    if patch is not None:  # nothing was ever instrumented otherwise
        patch.uninstrument()


def wrap(client: C) -> C:
    """Instrument one client instance of a registered provider, e.g. `openai`/`anthropic` (no
    global patching); returns it."""
    try:
        from casebank.integrations import _patch

        wrapped: Any = _patch.wrap(client)
        return wrapped  # type: ignore[no-any-return]
    except Exception as exc:
        logger.warning("casebank: could not wrap %r - %r", type(client).__name__, exc)
        return client
