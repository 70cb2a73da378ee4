"""The one registry of graders: what a grader's name (or import path) in a spec leads to.

Three ways in, one way of loading (habit 4b, "built-ins are plug-ins too"):

    built-in    casebank's own graders, listed in BUILTIN as `name -> "module:Class"` - the form of
                an entry point - and loaded by the same code, when first asked for: `cases list`
                never imports the SQL or the judge grader.
    plug-in     an entry point in group `casebank.graders` of any installed distribution
                (`tone = "team_graders:Tone"`), read the first time the registry is asked for a
                name it does not know, or for the whole list. A built-in's name cannot be taken.
    reference   `--grader my_pkg.graders:tone`: imported with the current folder first on the
                import path (as `cases run` imports entry points), and kept in the case file by
                that reference, so a run imports it again the same way.

Each leads to a Grader subclass, or to a plain function `(output, expected) -> bool | float |
Verdict`, which becomes a grader with one option, `threshold` (see `_custom.FunctionGrader`). The
class the registry hands out carries the name it was found by as its `name` (a subclass is made
when the plug-in's own differs), so `spec()` - and the case file - records that name or reference.

Built-in names are not read from casebank's own distribution metadata: a source checkout on
PYTHONPATH, or an editable install whose metadata is stale, would then find no graders at all,
and resolving `exact` would scan every installed distribution.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from casebank._words import a
from casebank.errors import InvalidInput
from casebank.replay.graders._base import Grader

__all__ = [
    "BUILTIN",
    "DEFAULT_GRADER",
    "ENTRY_POINT_GROUP",
    "GRADERS",
    "grader_class",
    "make_grader",
    "register",
    "registry",
]

ENTRY_POINT_GROUP = "casebank.graders"
DEFAULT_GRADER = "exact"
_EXAMPLE = "e.g. --grader my_pkg.graders:tone"

_HOME = "casebank.replay.graders."
# In the order help and the README list them: text, structured, programs, meaning, spans, custom.
BUILTIN: dict[str, str] = {
    "exact": _HOME + "_text:Exact",
    "contains": _HOME + "_text:Contains",
    "not_contains": _HOME + "_text:NotContains",
    "regex": _HOME + "_text:Regex",
    "one_of": _HOME + "_text:OneOf",
    "json_valid": _HOME + "_structured:JsonValid",
    "json_schema": _HOME + "_structured:JsonSchema",
    "json_fields": _HOME + "_structured:JsonFields",
    "numeric": _HOME + "_structured:Numeric",
    "python_compiles": _HOME + "_program:PythonCompiles",
    "python_tests": _HOME + "_program:PythonTests",
    "sql_rows": _HOME + "_sql:SqlRows",
    "embedding": _HOME + "_embedding:Embedding",
    "llm_judge": _HOME + "_judge:LLMJudge",
    "tool_called": _HOME + "_spans:ToolCalled",
    "tool_not_called": _HOME + "_spans:ToolNotCalled",
    "llm_calls": _HOME + "_spans:LlmCalls",
    "tokens": _HOME + "_spans:Tokens",
    "latency": _HOME + "_spans:Latency",
    "python": _HOME + "_custom:PythonFunction",
    "all": _HOME + "_composite:All",
    "any": _HOME + "_composite:Any_",
}


class Registry:
    """Names to grader classes: built-ins, `register()`ed classes, entry points; import paths on demand."""

    def __init__(self, builtin: Mapping[str, str]) -> None:
        self._builtin = dict(builtin)
        self._classes: dict[str, type[Grader]] = {}
        self._plugins: dict[str, importlib.metadata.EntryPoint] | None = None  # None: not read yet
        self._lock = threading.RLock()  # re-entrant: a plug-in may call register() while it is loaded

    def add(self, cls: type[Grader]) -> type[Grader]:
        with self._lock:
            self._classes[cls.name] = cls
        return cls

    def names(self) -> list[str]:
        """Every name: built-ins in their order, then the rest sorted (reads the entry points)."""
        with self._lock:
            others = (set(self._classes) | set(self._entry_points())) - set(self._builtin)
            return [*self._builtin, *sorted(n for n in others if ":" not in n)]

    def get(self, name: str) -> type[Grader]:
        with self._lock:
            cls = self._classes.get(name)
            if cls is not None:
                return cls
            if name in self._builtin:
                cls = _grader_of(_load_reference(self._builtin[name], name), name)
            else:
                cls = _grader_of(self._load_plugin(name), name)
            self._classes[name] = cls
            return cls

    def reference(self, ref: str) -> type[Grader]:
        """The grader an import path `module:name` names, imported with the current folder on the path."""
        with self._lock:
            cls = self._classes.get(ref)
            if cls is None:
                from casebank.replay._target import cwd_on_path

                with cwd_on_path():
                    cls = _grader_of(_load_reference(ref, ref), ref)
                self._classes[ref] = cls
            return cls

    def listing(self) -> list[tuple[str, type[Grader] | str]]:
        """(name, class) for every grader, or (name, why it cannot be loaded) for a broken plug-in."""
        listed: list[tuple[str, type[Grader] | str]] = []
        for name in self.names():
            try:
                listed.append((name, self.get(name)))
            except InvalidInput as exc:
                listed.append((name, str(exc)))
        return listed

    def _entry_points(self) -> dict[str, importlib.metadata.EntryPoint]:
        if self._plugins is None:
            found: dict[str, importlib.metadata.EntryPoint] = {}
            for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                # The first on sys.path wins, as for an import; a built-in's name is casebank's.
                if entry.name not in self._builtin and ":" not in entry.name:
                    found.setdefault(entry.name, entry)
            self._plugins = found
        return self._plugins

    def _load_plugin(self, name: str) -> Any:
        entry = self._entry_points().get(name)
        if entry is None:
            known = ", ".join(sorted(self.names()))
            raise InvalidInput(
                f"unknown grader '{name}' - choose one of: {known}; or give MODULE:NAME of your own ({_EXAMPLE})"
            )
        where = f"entry point '{entry.value}'" + (f" of {entry.dist.name}" if entry.dist is not None else "")
        try:
            return entry.load()
        except (Exception, SystemExit) as exc:  # the plug-in's own import-time errors too
            raise InvalidInput(
                f"grader '{name}' ({where}) cannot be loaded: {_one_line(exc)} - reinstall or fix that package"
            ) from None


def _load_reference(ref: str, name: str) -> Any:
    module_name, sep, qualname = ref.partition(":")
    parts = [*module_name.split("."), *qualname.split(".")]
    if not sep or not all(part.isidentifier() for part in parts):
        raise InvalidInput(f"grader '{name}' is not MODULE:NAME ({_EXAMPLE})")
    importlib.invalidate_caches()  # a module written a moment ago may be missing from the finders' caches
    try:
        obj: Any = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # the module's own import-time errors too
        raise InvalidInput(
            f"grader '{name}' cannot be imported: {_one_line(exc)} - install the package that has it, or run "
            "from the folder that holds the module (it is put on the import path)"
        ) from None
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise InvalidInput(
                f"grader '{name}' cannot be imported: '{module_name}' has no attribute '{part}' - check the name"
            ) from None
    return obj


def _grader_of(obj: Any, name: str) -> type[Grader]:
    """The Grader subclass `obj` is, or makes: a class named `name`, or a function wrapped as one."""
    if isinstance(obj, type) and issubclass(obj, Grader):
        if getattr(obj, "name", None) == name:
            return obj
        # The name it was found by is the one its spec must record; the plug-in's class is left as it is.
        return type(
            obj.__name__, (obj,), {"name": name, "__module__": obj.__module__, "__qualname__": obj.__qualname__}
        )
    if isinstance(obj, type) or not callable(obj):
        raise InvalidInput(
            f"grader '{name}' is {a(type(obj).__name__) if not isinstance(obj, type) else 'a class'}, not a "
            "casebank Grader subclass or a function of (output, expected) - point it at one"
        )
    try:
        inspect.signature(obj).bind("output", "expected")
    except TypeError:
        raise InvalidInput(
            f"grader '{name}' is a function that does not take (output, expected) - fix its signature"
        ) from None
    except ValueError:  # a builtin without a signature: let the call decide
        pass
    from casebank.replay.graders._custom import function_grader

    return function_grader(obj, name)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


registry = Registry(BUILTIN)


def register(cls: type[Grader]) -> type[Grader]:
    """Make `cls` findable by its `name` in this process (a plug-in package uses an entry point instead)."""
    return registry.add(cls)


def grader_class(name: Any) -> type[Grader]:
    """The class a spec's `name` leads to: a registered name, or an import path `module:name`."""
    if isinstance(name, str) and ":" in name:
        return registry.reference(name)
    return registry.get(str(name))


def make_grader(spec: Mapping[str, Any], *, base_dir: Path | None = None) -> Grader:
    """Build the grader a spec (`{"name": ..., "options": {...}}`) names; file options resolve under `base_dir`."""
    if not isinstance(spec, Mapping):
        raise InvalidInput(f"a grader spec must be an object with a name, not {type(spec).__name__}")
    name = spec.get("name")
    cls = grader_class(name)
    options = spec.get("options") or {}
    if not isinstance(options, Mapping):
        raise InvalidInput(f"grader '{name}' options must be an object, not {type(options).__name__}")
    return cls(options, base_dir=base_dir)


class _Graders(Mapping[str, type[Grader]]):
    """`GRADERS`: the registry seen as a read-only mapping of names to classes."""

    def __getitem__(self, name: str) -> type[Grader]:
        if name not in registry.names():
            raise KeyError(name)
        return registry.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(registry.names())

    def __len__(self) -> int:
        return len(registry.names())


GRADERS: Mapping[str, type[Grader]] = _Graders()
