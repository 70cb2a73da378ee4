"""Finding the function a case replays: `module:qualname`, imported the way `python -m` would.

`cases run` is usually started through the console script, whose `sys.path` begins with the
virtualenv's `bin/` folder, not the project. Entry points recorded in production name the
project's own modules (`support_bot.bot:answer`), so while a run imports and calls them the
current folder goes first on `sys.path`, exactly as `python -m` puts it there; it comes off
again afterwards so that a library caller's `sys.path` is left as it was.

Targets are imported once each, before any case runs, so a typo in `--target` is one clear
error (exit 2) rather than a whole suite of failed cases.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from casebank._runtime import REPLAY_ENV

# Set while a suite replays; `casebank.init()` is a no-op under it, so that importing and calling
# a traced entry point does not write replays into the production trace store.
from casebank._words import a
from casebank.errors import TargetImportError

__all__ = ["REPLAY_ENV", "cwd_on_path", "import_target", "is_async_target", "parse_target", "replaying"]

_EXAMPLE = "e.g. 'support_bot.bot:answer'"


@contextmanager
def cwd_on_path() -> Iterator[None]:
    """Put the current folder first on `sys.path` for the duration (no-op if already there)."""
    cwd = os.getcwd()
    if cwd in sys.path:
        yield
        return
    sys.path.insert(0, cwd)
    try:
        yield
    finally:
        try:
            sys.path.remove(cwd)
        except ValueError:  # the target removed it itself
            pass


@contextmanager
def replaying() -> Iterator[None]:
    """While entry points are imported and called: capture off (an app may call casebank.init()
    at import time, and replays must not write production traces) and the current folder on
    `sys.path`, as with `python -m`."""
    previous = os.environ.get(REPLAY_ENV)
    os.environ[REPLAY_ENV] = "1"
    try:
        with cwd_on_path():
            yield
    finally:
        if previous is None:
            os.environ.pop(REPLAY_ENV, None)
        else:
            os.environ[REPLAY_ENV] = previous


def parse_target(spec: str) -> tuple[str, str]:
    """`'pkg.mod:Class.method'` -> `('pkg.mod', 'Class.method')`; anything else is a TargetImportError."""
    module, sep, qualname = spec.strip().partition(":")
    parts_ok = all(part.isidentifier() for part in module.split(".")) and all(
        part.isidentifier() for part in qualname.split(".")
    )
    if not sep or not parts_ok:
        raise TargetImportError(f"target '{spec}' is not MODULE:FUNCTION ({_EXAMPLE})")
    return module, qualname


def import_target(spec: str, *, command: str | None = "cases run") -> Callable[..., object]:
    """Import `module:qualname` (qualname may be dotted, e.g. a staticmethod `Bot.answer`).

    `command` is the one the user ran, which the error tells them to start from the project folder
    (None: any `cases` command, e.g. for a grader that several commands build)."""
    module_name, qualname = parse_target(spec)
    # A module written a moment ago (a test, a code generator) may be missing from the finders'
    # cached directory listings.
    importlib.invalidate_caches()
    try:
        obj: Any = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # the module's own import-time errors too
        where = f"run '{command}'" if command is not None else "run cases"
        raise TargetImportError(
            f"cannot import target '{spec}': {_one_line(exc)} - {where} from the project folder "
            "(it is put on the import path), or check the module's name"
        ) from None
    for depth, part in enumerate(qualname.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            owner = module_name if depth == 0 else f"{module_name}:{'.'.join(qualname.split('.')[:depth])}"
            raise TargetImportError(
                f"cannot import target '{spec}': '{owner}' has no attribute '{part}' - check the name ({_EXAMPLE})"
            ) from None
    if not callable(obj):
        raise TargetImportError(f"target '{spec}' is {a(type(obj).__name__)}, not a function - name a function")
    target: Callable[..., object] = obj
    return target


def is_async_target(fn: Callable[..., Any]) -> bool:
    """True for `async def` functions (and wrappers that keep that marking, as `@casebank.trace` does)."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004  (an object with `async def __call__`)
    return call is not None and not inspect.isfunction(fn) and inspect.iscoroutinefunction(call)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
