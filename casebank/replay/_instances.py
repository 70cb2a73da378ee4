"""The instance a method's case is replayed on: from a factory in the project config, or `Class()`.

An entry point `module:Class.method` whose `method` is a plain method (not a staticmethod or a
classmethod) needs an instance; capture did not record `self` (a bot holding clients and
indexes is no data). The project config names a factory per class:

    [tool.casebank]
    factories = {"invoice_app.bot:Bot" = "invoice_app.bot:make_bot"}

else the class is called with no arguments. A factory may be `async def`: instances are made on
the run's event loop, so an async client the factory opens belongs to the loop that uses it.
There is one instance per class per run, made before the first case starts; a class that cannot
be made is one usage error (exit 2) naming the config line to write, as an unimportable target
is, not a suite of failed cases.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from casebank.errors import FactoryError, TargetImportError
from casebank.replay._target import import_target, parse_target

__all__ = ["make_instances", "method_owner"]


def method_owner(spec: str) -> tuple[str, type] | None:
    """(`module:Class`, the class) when `spec` names a plain method of a class, else None.

    Call it after `import_target(spec)` succeeded: the module and the names are there."""
    module_name, qualname = parse_target(spec)
    owner_path, _, attribute = qualname.rpartition(".")
    if not owner_path:
        return None
    owner: Any = importlib.import_module(module_name)
    for part in owner_path.split("."):
        owner = getattr(owner, part)
    if not isinstance(owner, type):
        return None
    try:
        raw = inspect.getattr_static(owner, attribute)
    except AttributeError:  # a class whose metaclass makes the attribute up
        return None
    if not inspect.isfunction(raw):  # staticmethod, classmethod, a callable object: called as it is
        return None
    return f"{module_name}:{owner_path}", owner


async def make_instances(owners: Mapping[str, type], factories: Mapping[str, str] | None) -> dict[str, object]:
    """One instance per class of `owners` (by `module:Class`), from its factory or its no-argument call."""
    made: dict[str, object] = {}
    for spec, cls in owners.items():
        factory_spec = (factories or {}).get(spec)
        if factory_spec is not None:
            made[spec] = await _from_factory(spec, cls, factory_spec)
        else:
            made[spec] = _from_class(spec, cls)
    return made


async def _from_factory(spec: str, cls: type, factory_spec: str) -> object:
    where = f"factory '{factory_spec}' for '{spec}' (factories in [tool.casebank])"
    try:
        factory: Callable[..., Any] = import_target(factory_spec)
    except TargetImportError as exc:
        raise FactoryError(f"{where} does not import: {exc} - fix the name in [tool.casebank] factories") from None
    try:
        instance = factory()
        if inspect.isawaitable(instance):
            instance = await instance
    except (Exception, SystemExit) as exc:
        raise FactoryError(
            f"{where} raised {_one_line(exc)} - make it return a {cls.__name__} with no arguments"
        ) from None
    if not isinstance(instance, cls):
        raise FactoryError(
            f"{where} returned a {type(instance).__name__}, not a {cls.__name__} - make it return the instance"
        )
    return instance


def _from_class(spec: str, cls: type) -> object:
    try:
        return cls()
    except (Exception, SystemExit) as exc:
        module = spec.partition(":")[0]
        line = f'factories = {{"{spec}" = "{module}:make_{_snake(cls.__name__)}"}}'
        raise FactoryError(
            f"cannot make a '{spec}' to replay its methods: {cls.__name__}() raised {_one_line(exc)} - name a "
            f"function that returns one in [tool.casebank] of pyproject.toml: {line}"
        ) from None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
