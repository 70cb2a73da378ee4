"""Rebuilding a case's arguments as the types the entry point takes.

A case file keeps the arguments as JSON: a dataclass is an object there, a datetime a string.
Passed back as they are, `req.id` fails with `'dict' object has no attribute 'id'`. So each
argument is rebuilt from, in this order:

1. the entry point's own type hint for that parameter: it describes today's code, so a case
   written before a field was added or a class was moved still replays;
2. else the type recorded at capture (the case's `input_types`, see `casebank.capture._types`);
3. else the JSON value as it is (a `str` stays a `str`; schema-1 case files have no types).

pydantic's `TypeAdapter(...).validate_python` does the work (dataclasses, models, enums,
datetimes, UUIDs, Decimals, NamedTuples, TypedDicts, nested containers), with one adapter per
type for the whole process. pydantic is imported on first use, so a `cases` command that never
replays does not pay for it. A hint pydantic cannot validate (a client object, a Protocol) is
passed over, as is `Any`.

A value that cannot be rebuilt - recorded as its repr, of a type that no longer imports, or one
that fails validation - raises `RebuildError` with the argument's name, the reason and the fix:
`cases promote` refuses the case, `cases run` counts it as an error of that case.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from casebank._json import REPR_MARKER
from casebank._limits import CUT_MARKER
from casebank.errors import CasebankError, TargetImportError
from casebank.replay._target import import_target, replaying

__all__ = ["RebuildError", "Rebuilder", "check_rebuildable", "hints_of", "recorded_arguments", "type_adapter"]

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_SEQUENCES: dict[str, Any] = {"list": list, "set": set, "frozenset": frozenset}
# Adapters by type: building one costs about a millisecond; a suite uses a handful of types.
# None: pydantic cannot validate the type (no schema for it).
_adapters: dict[Any, Any] = {}
_hints: dict[Any, dict[str, Any]] = {}


class RebuildError(CasebankError):
    """An argument that cannot be rebuilt: `str()` is "could not rebuild argument 'req': <reason>"."""

    def __init__(self, argument: str, reason: str, fix: str) -> None:
        super().__init__(f"could not rebuild argument '{argument}': {reason}")
        self.argument = argument
        self.reason = reason
        self.fix = fix

    @property
    def with_fix(self) -> str:
        return f"{self} - {self.fix}"


class Rebuilder:
    """Rebuilds one entry point's arguments; `hints` are its parameters' type hints (`hints_of`)."""

    def __init__(self, hints: Mapping[str, Any]) -> None:
        self.hints = hints

    def arguments(self, values: Mapping[str, Any], input_types: Mapping[str, Any]) -> dict[str, Any]:
        """`values` (fresh from the case file's JSON) with each argument rebuilt as its type."""
        return {name: self.argument(name, value, input_types.get(name)) for name, value in values.items()}

    def argument(self, name: str, value: Any, recorded: Any) -> Any:
        if value is None:  # what the product passed, whatever the hint says (`req: Invoice = None`)
            return None
        if (shown := _repr_inside(value)) is not None:
            raise RebuildError(
                name,
                f"it was recorded as its repr {shown}, not as data",
                "make its type a dataclass or a pydantic model (or give the parameter a type pydantic can "
                "validate), then capture, flag and promote a new trace",
            )
        if (cut := _cut_inside(value)) is not None:
            raise RebuildError(
                name,
                f"capture cut it at its size limit ({cut}), so a replay would not get what the product got",
                "promote a trace whose input is within capture's limits (README: Limits), "
                "or write the case's input by hand",
            )
        hint = self.hints.get(name)
        if hint is not None and (adapter := type_adapter(hint)) is not None:
            return _validate(name, adapter, value, f"the entry point's type hint {_type_name(hint)}")
        if recorded is None:
            return value
        recorded_type = _resolve(name, recorded)
        adapter = type_adapter(recorded_type)
        if adapter is None:
            raise RebuildError(
                name,
                f"its recorded type {_descriptor_text(recorded)} cannot be validated by pydantic",
                "give the parameter a type hint pydantic can validate",
            )
        return _validate(name, adapter, value, f"its recorded type {_descriptor_text(recorded)}")


def recorded_arguments(entrypoint: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` without the `self` or `cls` that a casebank from before methods were recognised
    recorded as its repr, when `entrypoint` is `module:Class.method`: the replay makes its own."""
    qualname = entrypoint.partition(":")[2]
    owner = qualname.rpartition(".")[0]
    if not owner or owner.endswith("<locals>"):
        return dict(values)
    return {
        name: value
        for name, value in values.items()
        if not (name in ("self", "cls") and isinstance(value, dict) and set(value) == {REPR_MARKER})
    }


def hints_of(fn: Callable[..., Any]) -> dict[str, Any]:
    """The type hints of `fn`'s parameters that can be passed by name (none for `Any`); cached.

    A hint that does not evaluate (a name imported only under TYPE_CHECKING) is left out: the
    recorded type rebuilds that argument instead."""
    key = getattr(fn, "__func__", fn)
    try:
        return _hints[key]
    except (KeyError, TypeError):
        pass
    function = inspect.unwrap(key) if callable(key) else key
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # one hint that does not evaluate: take the others one by one
        hints = _hints_one_by_one(function)
    found = {
        name: hint
        for name, hint in hints.items()
        if name in parameters and parameters[name].kind in _NAMED and hint is not Any
    }
    try:
        _hints[key] = found
    except TypeError:  # an unhashable callable object
        pass
    return found


def _hints_one_by_one(function: Any) -> dict[str, Any]:
    hints = {}
    namespace = getattr(function, "__globals__", {})
    for name, annotation in getattr(function, "__annotations__", {}).items():
        try:
            # What typing.get_type_hints does with a string annotation, one at a time.
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation
        except Exception:
            continue
    return hints


def check_rebuildable(entrypoint: str, values: Mapping[str, Any], input_types: Mapping[str, Any]) -> None:
    """Raise RebuildError if some argument cannot be rebuilt, as `cases run` would rebuild it.

    The entry point is imported if it can be (with capture off and the current folder on the
    import path, as `cases run` does); where it cannot be, its recorded types are all there is."""
    with replaying():
        try:
            hints = hints_of(import_target(entrypoint))
        except TargetImportError:
            hints = {}
        Rebuilder(hints).arguments(values, input_types)


def _validate(name: str, adapter: Any, value: Any, against: str) -> Any:
    from pydantic import ValidationError

    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise RebuildError(
            name,
            f"it does not validate against {against}: {_first_error(exc)}",
            "make the entry point accept the recorded value (see the case file's input), or promote a new case",
        ) from None


def _first_error(exc: Any) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    text = f"{where}: {first['msg']}" if where else str(first["msg"])
    return text + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")


def type_adapter(tp: Any) -> Any:
    """The cached TypeAdapter for `tp`, or None when pydantic cannot validate it (also for the
    results of frozen tool calls, `_fixtures`)."""
    try:
        return _adapters[tp]
    except KeyError:
        pass
    except TypeError:  # an unhashable hint (an Annotated with a dict inside): no cache
        return _make_adapter(tp)
    adapter = _adapters[tp] = _make_adapter(tp)
    return adapter


def _make_adapter(tp: Any) -> Any:
    from pydantic import PydanticSchemaGenerationError, PydanticUserError, TypeAdapter

    try:
        return TypeAdapter(tp)
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError, NameError):
        return None


def _resolve(name: str, descriptor: Any) -> Any:
    """The type a recorded descriptor (`casebank.capture._types`) names."""
    if descriptor is None:
        return Any
    if isinstance(descriptor, str):
        return _import_type(name, descriptor)
    if isinstance(descriptor, dict) and len(descriptor) == 1:
        ((kind, inner),) = descriptor.items()
        if kind in _SEQUENCES:
            return _SEQUENCES[kind].__class_getitem__(_resolve(name, inner))
        if kind == "tuple":
            # Built through __class_getitem__: the element types are known only now.
            if not isinstance(inner, list):
                return tuple.__class_getitem__((_resolve(name, inner), ...))
            return tuple.__class_getitem__(tuple(_resolve(name, item) for item in inner) if inner else ())
        if kind == "dict" and isinstance(inner, list) and len(inner) == 2:
            return dict.__class_getitem__((_resolve(name, inner[0]), _resolve(name, inner[1])))
        if kind == "union" and isinstance(inner, list) and inner:
            return typing.Union[tuple(_resolve(name, item) for item in inner)]  # noqa: UP007
    raise RebuildError(
        name,
        f"its recorded type {_descriptor_text(descriptor)} is not one casebank knows",
        "upgrade casebank, or give the parameter a type hint",
    )


def _import_type(name: str, path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (Exception, SystemExit) as exc:
        text = " ".join(str(exc).split())
        raise RebuildError(
            name,
            f"its recorded type '{path}' no longer imports ({type(exc).__name__}: {text})",
            f"give the parameter '{name}' a type hint in the entry point, or bring '{path}' back",
        ) from None
    return obj


def _repr_inside(value: Any) -> str | None:
    """The first `{"$repr": ...}` inside `value` (a value capture could not record as data), quoted."""
    if isinstance(value, dict):
        if len(value) == 1 and REPR_MARKER in value:
            text = str(value[REPR_MARKER])
            return repr(text if len(text) <= 80 else text[:77] + "...")
        items: Any = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        if (shown := _repr_inside(item)) is not None:
            return shown
    return None


def _cut_inside(value: Any) -> str | None:
    """The marker of the first string inside `value` that capture cut at a limit (`_limits`)."""
    if isinstance(value, str):
        found = CUT_MARKER.search(value[-64:])
        return found.group(0).lstrip("…") if found else None
    items: Any = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        if (cut := _cut_inside(item)) is not None:
            return cut
    return None


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return f"'{tp.__module__}:{tp.__qualname__}'"
    return f"'{tp}'".replace("typing.", "")


def _descriptor_text(descriptor: Any) -> str:
    return f"'{descriptor}'" if isinstance(descriptor, str) else orjson.dumps(descriptor).decode()
