"""`casebank.input_types`: which type each argument was, so that a replay can rebuild it.

JSON keeps a dataclass as an object and a datetime as a string; to call an entry point with what
the product saw, a replay needs the types back. Beside the arguments' JSON, the entry span
records a descriptor for each argument that is not plain JSON, as one JSON object by argument
name (`{"req": "invoice_app.models:Invoice", "when": "datetime:datetime"}`):

    "module:Qualname"      a class: a dataclass, a pydantic model, an enum, a NamedTuple,
                           datetime/date/time/timedelta, UUID, Decimal (a subclass of one of
                           these stdlib types is recorded as the stdlib type)
    {"list": D}            a list whose elements are all D; likewise "set" and "frozenset"
    {"tuple": [D, ...]}    a short tuple, element by element; {"tuple": D}: a long one, all D
    {"dict": [K, V]}       a dict whose keys are K and values V
    {"union": [D, ...]}    elements of different types ("builtins:str", "builtins:None", ...)
    null                   inside a container: plain JSON, as recorded

Arguments that are plain JSON (str, int, float, bool, None, and lists and dicts of those) are
left out, and a call with no other kind records no attribute at all. A TypedDict is a dict at
run time, so it cannot be seen here; a replay rebuilds it from the entry point's type hints.

Cost: a class's descriptor is worked out once (a cache by type), so a call pays a dict lookup
per argument; a container pays one C-speed pass over its elements' types, and nested containers
are sampled (the first `_SAMPLE` of each, at most `_BUDGET` in all), so that a large JSON payload
(a chat history) costs microseconds, not a walk of every node. Nothing here raises: the caller
wraps it, and a type it cannot name is left out (the replay then passes the JSON as it is).
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Any

from casebank._json import recorded_json

__all__ = ["input_types", "input_types_json", "module_name"]

Descriptor = Any  # str | dict[str, Descriptor | list[Descriptor]] | None

_PLAIN = frozenset({str, int, float, bool, type(None)})
_SEQUENCES: dict[type, str] = {list: "list", set: "set", frozenset: "frozenset"}
_CONTAINERS = frozenset({list, tuple, set, frozenset, dict})
# Stdlib value types orjson writes as text, by (module, qualname): looked up by name along a
# class's MRO, so that recording a Decimal does not import `decimal` into the app.
_STDLIB = frozenset(
    {
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("uuid", "UUID"),
        ("decimal", "Decimal"),
    }
)
_PLAIN_NAMES = {str: "builtins:str", int: "builtins:int", float: "builtins:float", bool: "builtins:bool"}
_SAMPLE = 32  # nested containers looked into, per container
_BUDGET = 256  # nested containers looked into, per argument
_SHORT_TUPLE = 8  # longer tuples are recorded as tuple[D, ...]
_CACHE_LIMIT = 4096  # classes made on the fly (one per call) must not grow the cache for ever
_CALL_CACHE_LIMIT = 64  # argument class combinations kept per function

_class_paths: dict[type, str | None] = {}
_UNSEEN = object()


def module_name(module: str) -> str:
    """The importable name of `module`: `__main__` means nothing to a replay, so it becomes the
    name the script would be imported by (its `-m` name, else its file's stem)."""
    if module != "__main__":
        return module
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return str(spec.name)
    path = getattr(main, "__file__", None)
    return Path(path).stem if path else module


def input_types_json(arguments: dict[str, Any], cache: dict[tuple[type, ...], str | None]) -> str | None:
    """`input_types(arguments)` as JSON text, or None; `cache` is the function's own.

    A function is mostly called with the same classes, and then its types are the same: keyed by
    the arguments' classes (names come in the signature's order), the text is one tuple and one
    dict lookup away. Only containers, whose descriptors depend on what they hold, are worked
    out each call."""
    key = tuple(map(type, arguments.values()))
    text = cache.get(key, _UNSEEN)
    if text is not _UNSEEN:
        return text  # type: ignore[return-value]
    types = input_types(arguments)
    text = None if types is None else recorded_json(types)
    if _CONTAINERS.isdisjoint(key) and len(cache) < _CALL_CACHE_LIMIT:
        cache[key] = text
    return text


def input_types(arguments: dict[str, Any]) -> dict[str, Descriptor] | None:
    """The descriptor of each argument that is not plain JSON, or None when none is."""
    found: dict[str, Descriptor] | None = None
    for name, value in arguments.items():
        cls = type(value)
        if cls in _PLAIN:  # the common case: one set lookup
            continue
        # A class seen before is one dict lookup (containers are never keys there).
        descriptor = _class_paths.get(cls, _UNSEEN)
        if descriptor is _UNSEEN:
            descriptor = _descriptor(value, [_BUDGET])
        if descriptor is not None:
            if found is None:
                found = {}
            found[name] = descriptor
    return found


def _descriptor(value: Any, budget: list[int]) -> Descriptor:
    cls = type(value)
    if cls in _PLAIN:
        return None
    if cls in _SEQUENCES:
        inner = _of_elements(value, budget)
        return None if inner is None and cls is list else {_SEQUENCES[cls]: inner}
    if cls is tuple:
        if len(value) <= _SHORT_TUPLE:
            return {"tuple": [_descriptor(item, budget) for item in value]}
        return {"tuple": _of_elements(value, budget)}
    if cls is dict:
        keys = _of_elements(value, budget)
        values = _of_elements(value.values(), budget)
        return None if keys is None and values is None else {"dict": [keys, values]}
    return _class_path(cls)


def _of_elements(items: Any, budget: list[int]) -> Descriptor:
    """One descriptor for every element of `items`: None when all are plain JSON."""
    kinds = set(map(type, items))
    if kinds <= _PLAIN:
        return None
    found: list[Descriptor] = []
    for kind in kinds - _CONTAINERS:
        descriptor = _class_path(kind) if kind not in _PLAIN else _plain_name(kind)
        if descriptor is not None:  # a class no replay can rebuild is recorded as its repr, and refused then
            found.append(descriptor)
    if not kinds.isdisjoint(_CONTAINERS):
        looked = 0
        for item in items:
            if type(item) not in _CONTAINERS or not item:  # an empty one fits any element type
                continue
            if looked >= _SAMPLE or budget[0] <= 0:
                break
            looked += 1
            budget[0] -= 1
            descriptor = _descriptor(item, budget)
            if descriptor is None:
                descriptor = _plain_name(type(item))
            if descriptor not in found:
                found.append(descriptor)
    return _one_of(found)


def _one_of(found: list[Descriptor]) -> Descriptor:
    """A single descriptor, a union of several, or None when the elements are plain after all."""
    typed = [d for d in found if not (isinstance(d, str) and d.startswith("builtins:"))]
    if not typed:
        return None
    if len(found) == 1:
        return found[0]
    return {"union": sorted(found, key=repr)}


def _plain_name(cls: type) -> Descriptor:
    """A plain kind inside a union: str, int, float, bool, None, or a JSON container."""
    if cls is type(None):
        return "builtins:None"
    if cls is list or cls is dict:
        return "builtins:" + cls.__name__
    return _PLAIN_NAMES.get(cls)


def _class_path(cls: type) -> str | None:
    """`module:Qualname` of a class a replay can rebuild from JSON, else None (cached by class)."""
    try:
        return _class_paths[cls]
    except KeyError:
        pass
    path = _rebuildable_path(cls)
    if len(_class_paths) < _CACHE_LIMIT:
        _class_paths[cls] = path
    return path


def _rebuildable_path(cls: type) -> str | None:
    if hasattr(cls, "__dataclass_fields__") or hasattr(cls, "__pydantic_fields__") or issubclass(cls, enum.Enum):
        return _path(cls)
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):  # a NamedTuple
        return _path(cls)
    for base in cls.__mro__:
        if (base.__module__, base.__qualname__) in _STDLIB:
            return _path(base)
    return None


def _path(cls: type) -> str:
    return f"{module_name(cls.__module__)}:{cls.__qualname__}"
