"""Putting the wrappers on the registered providers' targets (global) or on one client (`wrap`).

Global patching never imports a client package: each target module gets a wrapt post-import
hook, which patches right away if the module is already loaded and otherwise when the app
first loads it (the SDKs load their resource modules lazily; `import openai` alone takes about
a second). A target is patched where it lives, by its dotted name in its module: a class's
method for every client, a module's function for every caller that looks it up on the module
(see `_provider` for names imported elsewhere). `uninstrument()` removes every wrapper with
`wrapt.unwrap_object`, which puts the original function object back where it was (or splices
ours out if another instrumentation wrapped on top of it since), and turns the pending hooks
into no-ops.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

import wrapt

from casebank.integrations import _values, _wrappers
from casebank.integrations._failures import warn
from casebank.integrations._provider import Provider, Target
from casebank.integrations._registry import lookup, names, registered

logger = logging.getLogger("casebank")

_lock = threading.RLock()
_wanted: set[str] = set()  # names of the providers instrumented
_pending: set[tuple[str, str]] = set()  # (provider, module) whose post-import hook has not run yet
_applied: dict[tuple[str, str], tuple[Any, Any]] = {}  # (module, qualname) -> (module object, wrapt handle)
_instance_wraps: list[tuple[weakref.ref[Any], str, Any]] = []


def installed(package: str) -> bool:
    if package in sys.modules:
        return True
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def instrument(provider: Provider) -> bool:
    """Patch the provider's targets now where loaded, else when loaded. False if not installed."""
    if not installed(provider.package):
        return False
    with _lock:
        _wanted.add(provider.name)
        for module in dict.fromkeys(t.module for t in provider.targets):
            key = (provider.name, module)
            if key not in _pending:  # else its hook is waiting for the app to load the module
                _pending.add(key)
                wrapt.register_post_import_hook(_hook(provider.name), module)  # runs now if loaded
    return True


def _hook(name: str) -> Callable[[Any], None]:
    return lambda module: _on_import(name, module)


def _on_import(name: str, module: Any) -> None:
    """The post-import hook: must never raise, or the app's own import would fail."""
    try:
        with _lock:
            _pending.discard((name, module.__name__))
            provider = lookup(name) if name in _wanted else None
            if provider is None:
                return
            _register_sentinels(provider)
            for target in provider.targets:
                key = (target.module, target.qualname)
                if target.module != module.__name__ or key in _applied or not _has(module, target.qualname):
                    continue  # another module's, done already, or this version lacks it
                _applied[key] = (module, wrapt.wrap_function_wrapper(module, target.qualname, _wrapper(target)))
    except Exception as exc:
        warn(exc)


def _has(owner: Any, qualname: str) -> bool:
    for part in qualname.split("."):
        owner = getattr(owner, part, None)
        if owner is None:
            return False
    return True


def _wrapper(target: Target) -> Any:
    if target.stream_helper:
        return _wrappers.helper(target.endpoint, is_async=target.is_async)
    assert target.endpoint is not None  # a Target holds it
    return (_wrappers.async_call if target.is_async else _wrappers.sync_call)(target.endpoint)


def _register_sentinels(provider: Provider) -> None:
    types = []
    for sentinel in provider.sentinels:
        module_name, cls = sentinel.split(":")
        module = sys.modules.get(module_name)
        if module is None:
            module = importlib.import_module(module_name)
        found = getattr(module, cls, None)  # an older SDK may lack one
        if isinstance(found, type):
            types.append(found)
    if types:
        _values.register_sentinels(*types)


def uninstrument() -> None:
    """Remove every casebank wrapper: global ones and those `wrap()` put on clients."""
    with _lock:
        _wanted.clear()
        for (_, qualname), (module, handle) in list(_applied.items()):
            try:
                wrapt.unwrap_object(module, qualname, handle, missing_ok=True)
            except Exception as exc:
                warn(exc)
        _applied.clear()
        for ref, name, handle in _instance_wraps:
            obj = ref()
            if obj is not None:
                try:
                    wrapt.unwrap_object(obj, name, handle, missing_ok=True)
                except Exception as exc:
                    warn(exc)
        _instance_wraps.clear()


# -- one client -----------------------------------------------------------------------------------------


def _provider_of(client: Any) -> Provider | None:
    """The provider with client targets in the package of the client's class (or a base's)."""
    packages = [cls.__module__.split(".", 1)[0] for cls in type(client).__mro__]
    for candidates in (registered, lambda: [p for p in map(lookup, names()) if p is not None]):
        for provider in candidates():
            if provider.package in packages and any(t.client_path is not None for t in provider.targets):
                return provider
    return None


def wrap(client: Any) -> Any:
    """Instrument this one client (and the copies `with_options()`/`copy()` make of it)."""
    try:
        provider = _provider_of(client)
        if provider is None:
            takes = " or ".join(p.name for p in registered() if any(t.client_path for t in p.targets))
            logger.warning("casebank: wrap() takes an %s client, not %r", takes, type(client).__name__)
            return client
        _register_sentinels(provider)
        with _lock:
            for target in provider.targets:
                if target.client_path is None:
                    continue
                resource = client
                for part in target.client_path:
                    resource = getattr(resource, part, None)
                cls, method = target.qualname.split(".")
                if resource is None or type(resource).__name__ != cls:
                    continue
                if not hasattr(resource, method) or method in vars(resource):
                    continue  # absent in this version, or wrapped already
                handle = wrapt.wrap_function_wrapper(resource, method, _wrapper(target))
                _instance_wraps.append((weakref.ref(resource), method, handle))
            for name in ("copy", "with_options"):
                if hasattr(client, name) and name not in vars(client):
                    handle = wrapt.wrap_function_wrapper(client, name, _wrap_copies)
                    _instance_wraps.append((weakref.ref(client), name, handle))
            if len(_instance_wraps) > 256:
                _instance_wraps[:] = [w for w in _instance_wraps if w[0]() is not None]
    except Exception as exc:
        warn(exc)
    return client


def _wrap_copies(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return wrap(wrapped(*args, **kwargs))
