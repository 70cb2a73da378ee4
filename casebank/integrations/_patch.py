"""Putting the wrappers on the SDK classes (global) or on one client's resources (`wrap`).

Global patching never imports a client package: each target module gets a wrapt post-import
hook, which patches right away if the module is already loaded and otherwise when the app
first loads it (the SDKs load their resource modules lazily; `import openai` alone takes about
a second). `uninstrument()` removes every wrapper with `wrapt.unwrap_object`, which puts the
original function object back where it was (or splices ours out if another instrumentation
wrapped on top of it since), and turns the pending hooks into no-ops.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wrapt

from casebank.integrations import _anthropic, _openai, _values, _wrappers
from casebank.integrations._failures import warn
from casebank.integrations._provider import Endpoint

logger = logging.getLogger("casebank")


@dataclass(frozen=True)
class Target:
    module: str  # where the class is importable from
    cls: str
    method: str
    path: tuple[str, ...]  # from a client to the resource object: ("chat", "completions")
    make: Callable[[], Any]  # builds the wrapt wrapper


def _call(endpoint: Endpoint, is_async: bool) -> Callable[[], Any]:
    return lambda: (_wrappers.async_call if is_async else _wrappers.sync_call)(endpoint)


def _helper(endpoint: Endpoint | None, is_async: bool) -> Callable[[], Any]:
    return lambda: _wrappers.helper(endpoint, is_async=is_async)


def _resource(module: str, sync_cls: str, path: tuple[str, ...], methods: dict[str, Any]) -> list[Target]:
    """Targets for a sync resource class and its `Async` twin: {method: (endpoint, kind)}."""
    targets = []
    for cls, is_async in ((sync_cls, False), ("Async" + sync_cls, True)):
        for method, (endpoint, kind) in methods.items():
            make = _call(endpoint, is_async) if kind == "call" else _helper(endpoint, is_async)
            targets.append(Target(module, cls, method, path, make))
    return targets


TARGETS: dict[str, list[Target]] = {
    "openai": [
        *_resource(
            "openai.resources.chat.completions",
            "Completions",
            ("chat", "completions"),
            {"create": (_openai.CHAT, "call"), "parse": (_openai.CHAT, "call"), "stream": (None, "helper")},
        ),
        *_resource(
            "openai.resources.responses",
            "Responses",
            ("responses",),
            {"create": (_openai.RESPONSES, "call"), "parse": (_openai.RESPONSES, "call"), "stream": (None, "helper")},
        ),
        *_resource(
            "openai.resources.embeddings", "Embeddings", ("embeddings",), {"create": (_openai.EMBEDDINGS, "call")}
        ),
    ],
    "anthropic": _resource(
        "anthropic.resources.messages",
        "Messages",
        ("messages",),
        {"create": (_anthropic.MESSAGES, "call"), "stream": (_anthropic.MESSAGES_HELPER, "helper")},
    ),
}
SENTINEL_MODULES = {"openai": "openai._types", "anthropic": "anthropic._types"}

_lock = threading.RLock()
_wanted: set[str] = set()
_hooked: set[str] = set()
_applied: dict[tuple[str, str, str], Any] = {}  # (module, class, method) -> wrapt handle
_instance_wraps: list[tuple[weakref.ref[Any], str, Any]] = []


def installed(package: str) -> bool:
    if package in sys.modules:
        return True
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def instrument(package: str) -> bool:
    """Patch `package`'s classes now if loaded, else when loaded. False if it is not installed."""
    if not installed(package):
        return False
    with _lock:
        _wanted.add(package)
        for module in dict.fromkeys(t.module for t in TARGETS[package]):
            if module not in _hooked:
                _hooked.add(module)
                wrapt.register_post_import_hook(_hook(package), module)  # runs now if loaded
            elif module in sys.modules:
                _on_import(package, sys.modules[module])  # hooked before, then uninstrumented
    return True


def _hook(package: str) -> Callable[[Any], None]:
    return lambda module: _on_import(package, module)


def _sentinels(package: str) -> None:
    types = sys.modules.get(SENTINEL_MODULES[package])
    if types is None:
        types = importlib.import_module(SENTINEL_MODULES[package])
    _values.register_sentinels(*(t for t in (getattr(types, "Omit", None), getattr(types, "NotGiven", None)) if t))


def _on_import(package: str, module: Any) -> None:
    """The post-import hook: must never raise, or the app's own import would fail."""
    try:
        with _lock:
            if package not in _wanted:
                return
            _sentinels(package)
            for target in TARGETS[package]:
                if target.module != module.__name__:
                    continue
                key = (target.module, target.cls, target.method)
                cls = getattr(module, target.cls, None)
                if key in _applied or cls is None or not hasattr(cls, target.method):
                    continue  # this SDK version lacks it
                _applied[key] = wrapt.wrap_function_wrapper(cls, target.method, target.make())
    except Exception as exc:
        warn(exc)


def uninstrument() -> None:
    """Remove every casebank wrapper: global ones and those `wrap()` put on clients."""
    with _lock:
        _wanted.clear()
        for (module, cls, method), handle in list(_applied.items()):
            try:
                owner = getattr(sys.modules[module], cls)
                wrapt.unwrap_object(owner, method, handle, missing_ok=True)
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


def _package_of(client: Any) -> str | None:
    for cls in type(client).__mro__:
        package = cls.__module__.split(".", 1)[0]
        if package in TARGETS:
            return package
    return None


def wrap(client: Any) -> Any:
    """Instrument this one client (and the copies `with_options()`/`copy()` make of it)."""
    try:
        package = _package_of(client)
        if package is None:
            logger.warning("casebank: wrap() takes an openai or anthropic client, not %r", type(client).__name__)
            return client
        _sentinels(package)
        with _lock:
            for target in TARGETS[package]:
                resource = client
                for part in target.path:
                    resource = getattr(resource, part, None)
                if resource is None or type(resource).__name__ != target.cls:
                    continue
                if not hasattr(resource, target.method) or target.method in vars(resource):
                    continue  # absent in this version, or wrapped already
                handle = wrapt.wrap_function_wrapper(resource, target.method, target.make())
                _instance_wraps.append((weakref.ref(resource), target.method, handle))
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
