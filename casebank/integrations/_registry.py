"""The providers casebank can instrument, by name: one registry that everything else reads.

A provider module declares its endpoints and targets and calls `register(Provider(...))` when
it is imported; `instrument_installed`, the post-import hooks, `wrap` and `uninstrument` work
from what is registered. Three ways in, all ending in that one call:

- casebank's own (`openai`, `anthropic`): known here by name and module, imported the first
  time they are needed, so that `import casebank` loads none of them;
- a module of the app's own that registers a provider, imported before `casebank.init()`;
- an installed package's entry point in the group `casebank.integrations` (name = the
  provider's name, value = the module that registers it), read when casebank is asked for
  every provider or for a name it does not know, and loaded only when that one is wanted.

A name registered again replaces the earlier provider: the latest import wins.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from casebank.integrations._provider import Provider

__all__ = ["ENTRY_POINT_GROUP", "lookup", "names", "register", "registered"]

ENTRY_POINT_GROUP = "casebank.integrations"

logger = logging.getLogger("casebank")

# casebank's own providers: the module that registers each, imported when it is first wanted.
_BUILT_IN = {"openai": "casebank.integrations._openai", "anthropic": "casebank.integrations._anthropic"}

_providers: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    """Make `provider` instrumentable by its name; returns it. Call it in the provider's module."""
    if not isinstance(provider, Provider):
        raise TypeError(f"register() takes a casebank.integrations.Provider, not {type(provider).__name__}")
    _providers[provider.name] = provider
    return provider


def names() -> list[str]:
    """Every provider's name: casebank's own, those registered, those of installed entry points."""
    return list(dict.fromkeys([*_BUILT_IN, *_providers, *_entry_points()]))


def registered() -> list[Provider]:
    """casebank's own providers and those registered so far (no entry points are read)."""
    found = [lookup(name, entry_points=False) for name in dict.fromkeys([*_BUILT_IN, *_providers])]
    return [p for p in found if p is not None]


def lookup(name: str, *, entry_points: bool = True) -> Provider | None:
    """The provider called `name`, its module imported if need be; None if there is none."""
    provider = _providers.get(name)
    if provider is not None:
        return provider
    point: Any = None
    if name in _BUILT_IN:
        importlib.import_module(_BUILT_IN[name])
    elif entry_points:
        point = _entry_points().get(name)
        if point is None:
            return None
        point.load()
    else:
        return None
    provider = _providers.get(name)
    if provider is None:
        where = f"entry point {point.value!r}" if point is not None else _BUILT_IN[name]
        logger.warning("casebank: %s registered no provider called %r", where, name)
    return provider


def _entry_points() -> dict[str, Any]:
    try:
        from importlib.metadata import entry_points

        return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}
    except Exception as exc:  # a broken distribution's metadata must not stop instrumentation
        logger.warning("casebank: could not read the %s entry points - %r", ENTRY_POINT_GROUP, exc)
        return {}
